import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Edge, VerdictCounts } from '../../src/model/index.js';
import { formatCount, generatedFrom, isoTime, selectEdges } from '../../src/synthesize/index.js';

function edge(dst: string, verdicts: VerdictCounts, dropReasons: string[] = []): Edge {
  return {
    src: 'shop/Deployment/a',
    dst,
    protocol: 'TCP',
    port: 80,
    flows: 0,
    verdicts,
    firstSeen: Date.parse('2026-11-01T00:00:00Z'),
    lastSeen: Date.parse('2026-11-01T06:00:00Z'),
    http: [],
    dnsNames: [],
    kafkaTopics: [],
    dropReasons,
    policies: [],
    services: [],
  };
}

describe('selectEdges', () => {
  const edges = [
    edge('z/allowed', { forwarded: 5, dropped: 1 }),
    edge('b/proxied', { redirected: 2, traced: 1, translated: 1, audit: 1 }),
    edge('c/dropped', { dropped: 4, error: 1 }, ['POLICY_DENIED', 'CT_MAP_INSERTION_FAILED']),
    edge('d/rare', { forwarded: 1 }),
    edge('e/unknown', { unknown: 9 }),
  ];

  it('counts only flows that went through towards the threshold', () => {
    const s = selectEdges(edges, { minFlows: 5, allowDropped: false });
    assert.deepEqual(
      s.rules.map((r) => [r.edge.dst, r.flows, r.dropped]),
      [
        ['b/proxied', 5, false],
        ['z/allowed', 5, false],
      ],
    );
    assert.equal(s.belowThreshold, 1);
    assert.deepEqual(
      s.noVerdict.map((e) => e.dst),
      ['e/unknown'],
    );
  });

  it('lists edges with only dropped flows as denied, whatever the threshold', () => {
    const s = selectEdges(edges, { minFlows: 100, allowDropped: false });
    assert.deepEqual(s.rules, []);
    assert.deepEqual(s.observedButDenied, [
      {
        src: 'shop/Deployment/a',
        dst: 'c/dropped',
        protocol: 'TCP',
        port: 80,
        flows: 5,
        reasons: ['CT_MAP_INSERTION_FAILED', 'POLICY_DENIED'],
        lastSeen: Date.parse('2026-11-01T06:00:00Z'),
      },
    ]);
    assert.equal(s.belowThreshold, 3);
  });

  it('turns dropped edges into marked rules with allowDropped, still subject to the threshold', () => {
    const s = selectEdges(edges, { minFlows: 5, allowDropped: true });
    assert.deepEqual(
      s.rules.map((r) => [r.edge.dst, r.flows, r.dropped]),
      [
        ['b/proxied', 5, false],
        ['c/dropped', 5, true],
        ['z/allowed', 5, false],
      ],
    );
    assert.deepEqual(s.observedButDenied, []);
    const high = selectEdges(edges, { minFlows: 6, allowDropped: true });
    // z/allowed: 5 allowed + 1 dropped reaches 6 only by counting the drop, so it is marked.
    assert.deepEqual(
      high.rules.map((r) => [r.edge.dst, r.dropped]),
      [['z/allowed', true]],
    );
  });
});

describe('evidence formatting', () => {
  it('groups thousands without depending on the locale', () => {
    assert.equal(formatCount(0), '0');
    assert.equal(formatCount(999), '999');
    assert.equal(formatCount(1000), '1,000');
    assert.equal(formatCount(1234567), '1,234,567');
  });

  it('prints times to the second in UTC', () => {
    assert.equal(isoTime(Date.parse('2026-11-02T09:13:00.456Z')), '2026-11-02T09:13:00Z');
  });

  it('uses the learning window when known, else the span of the edges', () => {
    const rules = [
      { edge: edge('x', {}), flows: 1000, dropped: false },
      { edge: { ...edge('y', {}), lastSeen: Date.parse('2026-11-03T00:00:00Z') }, flows: 5, dropped: false },
    ];
    assert.equal(generatedFrom({}, rules), '1,005 flows, 2026-11-01T00:00:00Z to 2026-11-03T00:00:00Z');
    assert.equal(
      generatedFrom({ since: Date.parse('2026-10-01T00:00:00Z') }, rules),
      '1,005 flows, 2026-10-01T00:00:00Z to 2026-11-03T00:00:00Z',
    );
    assert.equal(generatedFrom({}, []), '0 flows');
  });
});
