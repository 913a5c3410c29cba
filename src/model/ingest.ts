// What collectors report besides flows: counted issues and positions for resuming.
import { FlowwrightError, type InputLocation } from './errors.js';
import type { Flow } from './flow.js';

/** A malformed record: counted, the first few shown, never fatal unless --strict. */
export interface InputIssue extends InputLocation {
  message: string;
  /**
   * What kind of malformed record it is, counted apart in the summary: `not valid JSON`, `not a known
   * record`, `record too large`, `nesting too deep`, `invalid UTF-8`, `invalid namespace name` (see
   * model/names.ts), ... Absent: a record with a bad field (`bad record`).
   */
  kind?: string;
}

/**
 * How far a source has been consumed. Written in the same transaction as the edge deltas it covers,
 * so a restart resumes exactly after the last flushed record.
 *   file:   source = `file:<sha256 of the first 64 KiB>`, position = lines consumed
 *   hubble-relay: source = `hubble-relay:<address>`, position = last flow time (RFC 3339, ns)
 *   kafka:  source = `kafka:<group>:<topic>:<partition>`, position = next offset
 */
export interface Checkpoint {
  source: string;
  position: string;
  /** True when a file was read to its end. */
  done?: boolean;
  /** Human-readable name for listings (the path as given, the address). */
  label?: string;
}

/** Counters every collector keeps; summed across sources for the summary line and metrics. */
export interface CollectStats {
  /** Records read (lines, messages), flows or not. */
  records: number;
  /** Flow records normalized (before reply filtering). */
  flows: number;
  /** Reply flows skipped: they are not dependencies. */
  replies: number;
  /** Records that are valid but not flows (node status, lost events, agent events). */
  nonFlow: number;
  /** Events the source reported as lost (Hubble lost_events). */
  lostEvents: number;
  /**
   * Files whose last line has no newline yet and is not a complete record (a writer still appending):
   * the line is not consumed, and the next run reads it again.
   */
  incompleteLastLines?: number;
  malformed: number;
  /** Malformed records by kind (InputIssue.kind, `bad record` when it has none). */
  malformedKinds?: Record<string, number>;
  /** The first few malformed records, with location. */
  issues: InputIssue[];
  /** Files skipped because a checkpoint says they were already ingested. */
  filesSkipped: number;
}

export const MAX_ISSUES_SHOWN = 5;

export function emptyStats(): CollectStats {
  return { records: 0, flows: 0, replies: 0, nonFlow: 0, lostEvents: 0, malformed: 0, issues: [], filesSkipped: 0 };
}

/** The kind a malformed record without its own kind is counted as. */
export const BAD_RECORD = 'bad record';

export function addIssue(stats: CollectStats, issue: InputIssue): void {
  stats.malformed++;
  stats.malformedKinds ??= {};
  const kinds = stats.malformedKinds;
  const kind = issue.kind ?? BAD_RECORD;
  kinds[kind] = (kinds[kind] ?? 0) + 1;
  if (stats.issues.length < MAX_ISSUES_SHOWN) stats.issues.push(issue);
}

/** A batch from a collector: normalized flows (replies included: the aggregator counts and skips them), and the checkpoint reached after it. */
export interface FlowBatch {
  flows: Flow[];
  checkpoint?: Checkpoint;
}

/**
 * The issue a record's failure makes at `where`: the error's message (after `prefix`, such as a stream
 * position), and the field and malformed kind a FlowwrightError carries. Messages are cut to 160 characters.
 */
export function issueOf(err: unknown, where: InputLocation, prefix = ''): InputIssue {
  const text = `${prefix}${err instanceof Error ? err.message : String(err)}`;
  const issue: InputIssue = { ...where, message: text.length > 160 ? `${text.slice(0, 157)}...` : text };
  if (err instanceof FlowwrightError) {
    if (err.location?.field) issue.field = err.location.field;
    if (err.kind !== undefined) issue.kind = err.kind;
  }
  return issue;
}
