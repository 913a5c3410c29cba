import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringMatches } from '../../src/policy/index.js';
import {
  holdsPatternCharacters,
  isGrpcPath,
  isIdSegment,
  pathOnly,
  regexLiteral,
  templateMatches,
  templatePaths,
  templateRegex,
} from '../../src/synthesize/index.js';

const templates = (paths: string[], threshold?: number) =>
  [...new Set(templatePaths(paths, threshold).values())].sort();

describe('path templating', () => {
  it('never keeps the query string or fragment', () => {
    assert.equal(pathOnly('/a/b?x=1&y=2'), '/a/b');
    assert.equal(pathOnly('/a#top'), '/a');
    assert.equal(pathOnly('?x=1'), '/');
    assert.deepEqual(templates(['/search?q=shoes', '/search?q=hats']), ['/search']);
  });

  it('collapses ID-bearing segments by shape', () => {
    for (const id of [
      '123',
      '123e4567-e89b-12d3-a456-426614174000',
      '9f86d08',
      'e3b0c44298fc1c149afbf4c8996fb924',
      'OLJCESPC7Z',
      'SKU-20240101',
      'x7Gh2kLm',
      'eyJhbGciOiJIUzI1NiJ9abcdef',
    ])
      assert.equal(isIdSegment(id), true, id);
    for (const word of ['', 'cart', 'checkout', 'v1', 'v1beta1', 'oauth2callback', 'GetProduct', 'deadbeef', 'API'])
      assert.equal(isIdSegment(word), false, word);
    assert.deepEqual(templates(['/api/users/123', '/api/users/456', '/api/users/789/orders']), [
      '/api/users/{*}',
      '/api/users/{*}/orders',
    ]);
    assert.deepEqual(templates(['/product/OLJCESPC7Z', '/product/66VCHSJNUP']), ['/product/{*}']);
  });

  it('never merges distinct routes', () => {
    const routes = ['/', '/cart', '/cart/checkout', '/setCurrency', '/api/v1/orders', '/api/v1beta1/orders', '/cart/'];
    assert.deepEqual(templates(routes), [...routes].sort());
    // Ten static routes under one prefix are within the default threshold: all kept.
    const ten = Array.from({ length: 10 }, (_, i) => `/api/${String.fromCharCode(97 + i)}route`);
    assert.deepEqual(templates(ten), [...ten].sort());
    // gRPC methods are a fixed API, however many there are.
    const grpc = Array.from({ length: 30 }, (_, i) => `/shop.Catalog/Method${String.fromCharCode(65 + i)}x`);
    assert.equal(isGrpcPath(grpc[0]), true);
    assert.deepEqual(templates(grpc, 5), [...grpc].sort());
  });

  it('collapses a position with more distinct values than the threshold', () => {
    const users = Array.from({ length: 12 }, (_, i) => `/users/${'abcdefghijkl'[i]}name/profile`);
    assert.deepEqual(templates([...users, '/users']), ['/users', '/users/{*}/profile']);
    assert.deepEqual(templates(users, 20).length, 12);
  });

  it('maps every input to a template that matches it, here and in the policy engine', () => {
    const input = ['/api/users/42?x=1', '/product/L9ECAV7KIM', '/cart', '/files/9f86d08/raw'];
    for (const [raw, template] of templatePaths(input)) {
      assert.equal(templateMatches(template, raw), true, `${template} ~ ${raw}`);
      assert.equal(stringMatches(template, pathOnly(raw), { path: true }), true, `istio ${template} ~ ${raw}`);
      assert.match(raw, new RegExp(`^${templateRegex(template)}$`));
    }
    assert.equal(templateMatches('/api/users/{*}', '/api/users/'), false);
    assert.equal(templateMatches('/api/users/{*}', '/api/users/1/2'), false);
    assert.doesNotMatch('/api/users/1/2', new RegExp(`^${templateRegex('/api/users/{*}')}$`));
    assert.equal(templateRegex('/a.b/{*}'), '/a\\.b/[^/?]+(\\?.*)?');
  });

  it('never makes a wildcard of a path from traffic: "*", "{" and "}" get no template at all', () => {
    const hostile = ['/*', '/.*', '/{*}', '/api/{**}', '/a*b', '/files/*/raw'];
    const result = templatePaths([...hostile, '/cart', '/api/users/12']);
    assert.deepEqual([...result.entries()].sort(), [
      ['/api/users/12', '/api/users/{*}'],
      ['/cart', '/cart'],
    ]);
    // Not through rule 3 either: many siblings collapse, the one holding "*" is still left out.
    const users = Array.from({ length: 12 }, (_, i) => `/users/${'abcdefghijkl'[i]}name`);
    const many = templatePaths([...users, '/users/*']);
    assert.equal(many.get('/users/*'), undefined);
    assert.equal(many.get('/users/aname'), '/users/{*}');
    for (const segment of ['*', 'a*b', '{*}', '{x}']) assert.equal(isIdSegment(segment), false, segment);
    assert.equal(holdsPatternCharacters('GET'), false);
    assert.equal(holdsPatternCharacters('*'), true);
  });

  it('escapes every regex metacharacter of a literal', () => {
    for (const text of ['G.T', '*', '.*', 'a+b$', '^(x|y)[z]{2}?\\'])
      assert.match(text, new RegExp(`^${regexLiteral(text)}$`), text);
    assert.doesNotMatch('GET', new RegExp(`^${regexLiteral('G.T')}$`));
    assert.doesNotMatch('DELETE', new RegExp(`^${regexLiteral('.*')}$`));
    assert.equal(regexLiteral('.*'), '\\.\\*');
  });
});
