import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SPAN_MS, DEFAULT_START, type HubbleOptions, hubbleLines } from '../../samples/hubble.js';
import { shopDeniedConnections, shopIntendedConnections, shopScenario } from '../../samples/shop.js';
import { analyze, connectionKey } from './analyze.js';

const base: HubbleOptions = {
  flows: 6000,
  seed: 7,
  startMs: Date.parse(DEFAULT_START),
  spanMs: DEFAULT_SPAN_MS,
  l7: false,
};
const generate = (opts: Partial<HubbleOptions> = {}) => [...hubbleLines(shopScenario(), { ...base, ...opts })];

describe('hubbleLines', () => {
  const lines = generate();
  const stats = analyze(lines);

  it('is deterministic by seed', () => {
    assert.deepEqual(generate(), lines);
    const other = generate({ seed: 8 });
    assert.notDeepEqual(other, lines);
    assert.equal(other.length, lines.length, 'a seed changes the traffic, not the number of records');
  });

  it('produces exactly the requested number of flow records, plus a few non-flow lines', () => {
    assert.equal(stats.flows, 6000);
    // 4 nodes connect at the start, one flaps (2 lines), events are lost twice (at 1/3 and 2/3).
    assert.deepEqual(stats.nonFlow, { node_status: 6, lost_events: 2 });
    assert.equal(lines.length, 6008);
  });

  it('has replies, dropped flows and records without is_reply in realistic shares', () => {
    const replyShare = stats.replies / stats.flows;
    assert.ok(replyShare > 0.3 && replyShare < 0.6, `reply share ${replyShare}`);
    const dropShare = stats.dropped / stats.flows;
    assert.ok(dropShare > 0 && dropShare < 0.02, `dropped share ${dropShare}`);
    const unknownShare = stats.withoutIsReply / stats.flows;
    assert.ok(unknownShare > 0 && unknownShare < 0.05, `no is_reply share ${unknownShare}`);
    // Only SYN or SYN-ACK records leave is_reply out, so a reader can still tell them apart.
    assert.equal(stats.withoutIsReplyNotSyn, 0);
    for (const reason of stats.dropReasons) assert.equal(reason, 'POLICY_DENIED');
  });

  it('shows every Deployment and StatefulSet under two rollout hashes, and some endpoints without workloads', () => {
    const scenario = shopScenario();
    for (const w of scenario.workloads.values()) {
      const hashes = stats.rolloutHashes.get(w.key);
      assert.equal(hashes?.size, 2, `${w.key}: ${[...(hashes ?? [])].join(', ')}`);
    }
    assert.ok(stats.endpointsWithoutWorkloads > 0);
    assert.ok(stats.endpointsWithWorkloads > stats.endpointsWithoutWorkloads);
  });

  it('covers every non-reply forwarded record with an intended connection, and observes each of them', () => {
    const intended = new Set(shopIntendedConnections().map(connectionKey));
    for (const seen of stats.forwarded) assert.ok(intended.has(seen), `not intended: ${seen}`);
    for (const want of intended) assert.ok(stats.forwarded.has(want), `never observed: ${want}`);
  });

  it('shows denied connections only as dropped records', () => {
    const denied = shopDeniedConnections().map(connectionKey);
    assert.deepEqual([...stats.droppedConnections].sort(), [...denied].sort());
    for (const d of denied) assert.ok(!stats.forwarded.has(d));
    const intended = new Set(shopIntendedConnections().map(connectionKey));
    for (const d of denied) assert.ok(!intended.has(d));
  });

  it('resolves external names by DNS before using them, and names the external peer', () => {
    assert.deepEqual([...stats.dnsQueries].filter((q) => q.includes('example')).sort(), [
      'api.payments.example.',
      'api.shipping.example.',
    ]);
    assert.deepEqual(stats.destinationNames.get('203.0.113.10'), new Set(['api.payments.example']));
    assert.deepEqual(stats.destinationNames.get('198.51.100.20'), new Set(['api.shipping.example']));
    assert.ok(stats.lookupBeforeExternal, 'every external connection follows a lookup of its name');
  });

  it('keeps time in order within the span', () => {
    assert.ok(stats.timesInOrder);
    assert.ok(stats.firstTime >= base.startMs && stats.lastTime < base.startMs + base.spanMs);
    // Records spread over the span: the last one is well past its middle.
    assert.ok(stats.lastTime > base.startMs + base.spanMs * 0.9);
  });

  it('adds HTTP request and response records with ID-bearing paths only with l7', () => {
    assert.equal(stats.httpPaths.size, 0);
    const l7 = analyze(generate({ l7: true }));
    assert.ok(l7.httpRequests > 0 && l7.httpRequests === l7.httpResponses);
    const paths = [...l7.httpPaths];
    assert.ok(paths.some((p) => /^\/product\/[0-9A-Z]{10}$/.test(p)));
    assert.ok(paths.some((p) => /^\/api\/cart\/\d+$/.test(p)));
    assert.ok(paths.includes('/hipstershop.CartService/GetCart'));
  });
});
