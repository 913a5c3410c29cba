// Hostile and broken input through the real command line: what `ingest` refuses, how it says so, and
// the exit codes scripts see. Each case is one a user met (issue: hostile and broken input).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EXIT_CODES } from '../../src/model/index.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const TSX = import.meta.resolve('tsx');
const dir = mkdtempSync(join(tmpdir(), 'fw-hostile-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function flowwright(args: string[], input?: string) {
  const r = spawnSync(process.execPath, ['--import', TSX, join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: dir,
    input,
    encoding: 'utf8',
    env: { ...process.env, FLOWWRIGHT_DB: '', NO_COLOR: '1' },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A Hubble JSON line from `src` to `dst` (namespace and pod), port 8080. */
function flowLine(i: number, src = ['shop', 'web-7d4b9c-aaaaa'], dst = ['shop', 'api-6f8d5c-bbbbb']): string {
  const time = new Date(Date.UTC(2024, 5, 3, 10) + i * 1000).toISOString();
  const end = ([namespace, pod]: string[], app: string) => ({ namespace, pod_name: pod, labels: [`k8s:app=${app}`] });
  return JSON.stringify({
    flow: {
      time,
      verdict: 'FORWARDED',
      IP: { source: '10.244.1.10', destination: '10.244.2.20' },
      l4: { TCP: { source_port: 40000 + i, destination_port: 8080, flags: { SYN: true } } },
      source: end(src, 'web'),
      destination: end(dst, 'api'),
      traffic_direction: 'EGRESS',
      is_reply: false,
    },
    time,
  });
}

describe('names that would escape the output directory or break the terminal', () => {
  it('are refused at ingest, so propose --out writes only inside its directory', () => {
    const file = join(dir, 'traversal.json');
    const db = join(dir, 'traversal.db');
    writeFileSync(
      file,
      [
        flowLine(0),
        flowLine(1, ['../../x', 'web-7d4b9c-aaaaa']),
        flowLine(2, undefined, ['shop', '../../../../tmp/PWNED']),
        flowLine(3, ['sh\nop', 'web-7d4b9c-aaaaa']),
        flowLine(4, undefined, ['shop', '\u001b]0;owned\u0007api']),
        flowLine(5),
      ].join('\n'),
    );
    const r = flowwright(['ingest', file, '--db', db]);
    assert.equal(r.code, EXIT_CODES.ok, r.stderr);
    assert.match(r.stderr, /ingested 2 flows from 6 records/);
    assert.match(r.stderr, /4 malformed \(2 invalid namespace name, 2 invalid pod name\)/);
    assert.match(r.stderr, /traversal\.json:2: source\.namespace: invalid namespace name "\.\.\/\.\.\/x"/);
    assert.match(r.stderr, /traversal\.json:5: destination\.pod: invalid pod name "\\u001b\]0;owned\\u0007api"/);
    assert.doesNotMatch(r.stderr, /\u001b/, 'no raw escape sequence reaches the terminal');

    const out = join(dir, 'root', 'policies');
    mkdirSync(out, { recursive: true });
    const p = flowwright(['propose', '--db', db, '--out', out]);
    assert.equal(p.code, EXIT_CODES.ok, p.stderr);
    assert.deepEqual(readdirSync(join(dir, 'root')), ['policies'], 'nothing written beside the output directory');
    assert.deepEqual(readdirSync(out), ['shop']);
    assert.equal(existsSync(join(dir, 'x')), false);
  });

  it('--strict makes an invalid name fatal: exit 3, file, line, field and kind on one line', () => {
    const file = join(dir, 'strict.json');
    writeFileSync(file, `${flowLine(0)}\n${flowLine(1, undefined, ['Shop', 'api-1'])}\n`);
    const r = flowwright(['ingest', file, '--strict', '--db', join(dir, 'strict.db')]);
    assert.equal(r.code, EXIT_CODES.input);
    assert.match(r.stderr, /^flowwright: .*strict\.json:2: destination\.namespace: invalid namespace name "Shop"/m);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });
});

describe('methods and paths from traffic are data, never patterns', () => {
  /** An HTTP request from shop/web to shop/api:8080, as Hubble's L7 visibility reports it. */
  function requestLine(i: number, method: string, url: string): string {
    const flow = JSON.parse(flowLine(i));
    flow.flow.traffic_direction = 'INGRESS';
    flow.flow.l7 = { type: 'REQUEST', http: { method, url } };
    return JSON.stringify(flow);
  }

  it('an observed method "*" does not let explain allow DELETE /x; a method that is not a token is refused', () => {
    const file = join(dir, 'l7.json');
    const db = join(dir, 'l7.db');
    writeFileSync(
      file,
      [
        requestLine(0, 'GET', '/ok'),
        requestLine(1, '*', '/x'),
        requestLine(2, 'GET', '/*'),
        requestLine(3, 'GET /admin HTTP/1.1\r\n', '/y'),
        requestLine(4, 'GET', '/ok'),
      ].join('\n'),
    );
    const r = flowwright(['ingest', file, '--db', db]);
    assert.equal(r.code, EXIT_CODES.ok, r.stderr);
    assert.match(r.stderr, /1 malformed \(1 invalid HTTP method\)/);
    assert.match(r.stderr, /l7\.json:4: l7\.http\.method: invalid HTTP method "GET \/admin HTTP\/1\.1\\r\\n"/);

    const out = join(dir, 'l7-policies');
    const p = flowwright(['propose', '--db', db, '--kinds', 'authorizationpolicy', '--out', out]);
    assert.equal(p.code, EXIT_CODES.ok, p.stderr);
    assert.match(p.stderr, /2 HTTP requests \("\*" "\/x", "GET" "\/\*"\) .* left out of the layer 7 rules/);
    const explain = (method: string, path: string) =>
      flowwright([
        'explain',
        'shop/web-7d4b9c-aaaaa',
        'shop/api-6f8d5c-bbbbb:8080',
        '--method',
        method,
        '--path',
        path,
        '--policies',
        out,
        '--db',
        db,
        '--exit-code',
      ]).code;
    assert.equal(explain('GET', '/ok'), EXIT_CODES.ok);
    assert.equal(explain('DELETE', '/x'), EXIT_CODES.finding);
    assert.equal(explain('*', '/x'), EXIT_CODES.finding);
    assert.equal(explain('GET', '/anything'), EXIT_CODES.finding);
  });
});
