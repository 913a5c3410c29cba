// The JSON of `verify --format json` and `diff --format json`: the reports with times as RFC 3339
// strings, keys in a fixed order, and a `schemaVersion` that changes only when a field changes meaning
// or disappears (new fields may be added within a version). The README documents both schemas.
import type { ConnectionChange, DiffReport, RuleUsage } from './diff.js';
import { iso, isoOrNull, newlyDeniedObserved } from './render-common.js';
import type { SkippedEdge, VerifiedEdge, VerifyReport } from './verify.js';

function edgeRef(e: { src: string; dst: string; protocol: string; port: number; srcName: string; dstName: string }) {
  return { src: e.src, dst: e.dst, protocol: e.protocol, port: e.port, srcName: e.srcName, dstName: e.dstName };
}

function verified(e: VerifiedEdge) {
  return {
    ...edgeRef(e),
    layer: e.layer,
    request: e.request ?? null,
    allowedFlows: e.allowedFlows,
    droppedFlows: e.droppedFlows,
    firstSeen: iso(e.firstSeen),
    lastSeen: iso(e.lastSeen),
    summary: e.summary,
    explanation: e.explanation,
  };
}

function skipped(e: SkippedEdge) {
  return { ...edgeRef(e), why: e.why };
}

function windowJson(w: { since: number | null; until: number | null }) {
  return { since: isoOrNull(w.since), until: isoOrNull(w.until) };
}

export function verifyToJson(r: VerifyReport) {
  return {
    schemaVersion: r.schemaVersion,
    kind: 'verify',
    window: windowJson(r.window),
    policies: { ...r.policies },
    totals: { ...r.totals },
    coverage: r.coverage,
    flowCoverage: r.flowCoverage,
    broken: r.broken.map(verified),
    droppedNowAllowed: r.droppedNowAllowed.map(verified),
    undetermined: r.undetermined.map(verified),
    skipped: r.skipped.map(skipped),
    warnings: [...r.warnings],
  };
}

function change(c: ConnectionChange) {
  return {
    ...edgeRef(c),
    observed: c.observed
      ? {
          allowedFlows: c.observed.allowedFlows,
          droppedFlows: c.observed.droppedFlows,
          lastSeen: iso(c.observed.lastSeen),
        }
      : null,
  };
}

function rule(u: RuleUsage) {
  return {
    policy: u.policy,
    file: u.source.file,
    document: u.source.document,
    item: u.source.item ?? null,
    direction: u.direction,
    rule: u.rule,
    description: u.description,
    matchedConnections: u.matchedConnections,
    lastSeen: isoOrNull(u.lastSeen),
    removed: u.removed,
  };
}

export function diffToJson(r: DiffReport) {
  return {
    schemaVersion: r.schemaVersion,
    kind: 'diff',
    mode: r.mode,
    window: windowJson(r.window),
    unusedSince: isoOrNull(r.unusedSince),
    existing: { ...r.existing },
    proposed: { ...r.proposed },
    universe: { ...r.universe },
    summary: {
      newlyAllowed: r.newlyAllowed.length,
      newlyAllowedObserved: r.newlyAllowed.filter((c) => c.observed).length,
      newlyDenied: r.newlyDenied.length,
      newlyDeniedObserved: newlyDeniedObserved(r),
      allowedByBoth: r.allowedByBoth.length,
      unusedRules: r.unusedRules.length,
      filesChanged: r.files.length,
    },
    newlyAllowed: r.newlyAllowed.map(change),
    newlyDenied: r.newlyDenied.map(change),
    // The full list is mostly pairs nobody used; the observed ones are what a reviewer checks.
    allowedByBothObserved: r.allowedByBoth.filter((c) => c.observed !== null).map(change),
    unusedRules: r.unusedRules.map(rule),
    files: r.files.map((f) => ({ path: f.path, status: f.status, before: f.before, after: f.after })),
    notes: [...r.notes],
  };
}

export function renderVerifyJson(r: VerifyReport): string {
  return `${JSON.stringify(verifyToJson(r), null, 2)}\n`;
}

export function renderDiffJson(r: DiffReport): string {
  return `${JSON.stringify(diffToJson(r), null, 2)}\n`;
}
