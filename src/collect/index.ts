// The public surface of collect/: flow logs from files, directories and stdin as batches of Flows, with a
// checkpoint per batch so that an interrupted or repeated ingest neither loses nor double-counts a line.
import type { Readable } from 'node:stream';
import type { Checkpoint, CollectStats, Flow, FlowBatch, InputIssue, Origin } from '../model/index.js';
import { addIssue, FlowwrightError, issueOf } from '../model/index.js';
import { handleCalicoRecord, isCalicoRecord } from './calico/flowlog.js';
import { expandInputs, type InputSource, readLines } from './files.js';
import { classifyHubbleRecord, handleHubbleRecord } from './hubble/json.js';

export { expandInputs, FINGERPRINT_BYTES, type InputSource, type LineChunk, readLines } from './files.js';
export {
  classifyHubbleRecord,
  type HubbleRecordKind,
  handleHubbleRecord,
  normalizeHubbleFlow,
  splitUrl,
} from './hubble/json.js';

/** A line-per-record format of flow logs. */
export interface RecordFormat {
  /** For messages: what the user would call it. */
  title: string;
  /** Whether a file whose first record is `record` (parsed JSON) is in this format. */
  detect(record: unknown): boolean;
  /**
   * Appends the record's flows to `out`, or counts it as a non-flow record in `stats`.
   * Throws (preferably a FlowwrightError with a field) when the record is malformed.
   */
  handle(record: unknown, origin: Origin, out: Flow[], stats: CollectStats): void;
}

/**
 * The formats a file may be in, tried in this order on its first non-blank line. Calico flow logs are
 * added here as another entry.
 */
export const RECORD_FORMATS: Record<string, RecordFormat> = {
  hubble: {
    title: 'Hubble JSON (hubble observe -o json / -o jsonpb, Hubble exporter)',
    detect: (record) => classifyHubbleRecord(record) !== 'unknown',
    handle: handleHubbleRecord,
  },
  calico: {
    title: 'Calico flow logs (flows.log, Elasticsearch hits and _bulk lines)',
    detect: isCalicoRecord,
    handle: handleCalicoRecord,
  },
};

export interface ReadFilesOptions {
  /** Make the first malformed record fatal (a FlowwrightError('input') with its location). */
  strict?: boolean;
  /**
   * Flows per batch, at most. Default 256: small batches are handed on while young, which halves the
   * garbage collector's work compared with thousands of flows per batch (see BENCHMARKS.md).
   */
  batchSize?: number;
  /** Counters, updated as records are read. */
  stats: CollectStats;
  /** Looks up the stored checkpoint of a source (`file:<fingerprint>`), to skip or continue a file. */
  resume?: (source: string) => Checkpoint | undefined;
  /** Stream to read for `-` instead of process.stdin (for embedding and tests). */
  stdin?: Readable;
}

/** What a file checkpoint's position records: lines consumed and the file's size in bytes. */
export interface FilePosition {
  lines: number;
  size: number;
}

/**
 * Reads every input (see expandInputs) and yields its flows in batches. Reply flows are included: the
 * aggregator counts and skips them, and reads DNS answers from reply L7 records. Each batch of a file
 * carries the checkpoint of the last line it covers; the file's last batch is marked done.
 */
export async function* readFlowFiles(paths: string[], opts: ReadFilesOptions): AsyncGenerator<FlowBatch> {
  const sources = await expandInputs(paths);
  for (const src of sources) yield* readSource(src, opts);
}

/** Parses a file checkpoint's position; undefined when it is not one (then the file is read from the start). */
export function parseFilePosition(position: string): FilePosition | undefined {
  try {
    const p = JSON.parse(position) as Partial<FilePosition>;
    if (Number.isInteger(p.lines) && Number.isInteger(p.size) && p.lines! >= 0 && p.size! >= 0)
      return { lines: p.lines!, size: p.size! };
  } catch {
    // fall through
  }
  return undefined;
}

async function* readSource(src: InputSource, opts: ReadFilesOptions): AsyncGenerator<FlowBatch> {
  const { stats } = opts;
  const batchSize = Math.max(1, opts.batchSize ?? 256);
  const checkpointSource = src.fingerprint !== undefined ? `file:${src.fingerprint}` : undefined;

  // Lines up to `skipThrough` were ingested by an earlier run.
  let skipThrough = 0;
  if (checkpointSource !== undefined && opts.resume) {
    const previous = opts.resume(checkpointSource);
    const position = previous ? parseFilePosition(previous.position) : undefined;
    if (previous?.done && position && position.size === src.size) {
      stats.filesSkipped++;
      return;
    }
    if (position) skipThrough = position.lines;
  }

  let linesDone = skipThrough;
  let bytesRead = 0;
  const checkpoint = (done: boolean): Checkpoint | undefined =>
    checkpointSource === undefined
      ? undefined
      : {
          source: checkpointSource,
          position: JSON.stringify({ lines: linesDone, size: done ? bytesRead : (src.size ?? 0) }),
          done,
          label: src.display,
        };

  const malformed = (issue: InputIssue): void => {
    if (opts.strict) {
      const { message, kind, ...location } = issue;
      throw new FlowwrightError('input', message, location, { kind });
    }
    addIssue(stats, issue);
  };

  let format: RecordFormat | undefined;
  let flows: Flow[] = [];
  let incomplete = false;
  try {
    for await (const chunk of readLines(src, { stdin: opts.stdin })) {
      bytesRead = chunk.bytesRead;
      const lines = chunk.lines;
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i];
        const lineNo = chunk.firstLine + i;
        if (isBlank(line)) {
          if (lineNo > skipThrough) linesDone = lineNo;
          continue;
        }
        let record: unknown;
        let parsed = true;
        if (format === undefined || lineNo > skipThrough) {
          try {
            record = JSON.parse(line);
          } catch (err) {
            parsed = false;
            record = err;
          }
        }
        if (format === undefined) {
          // The first non-blank line decides the format, even when a checkpoint says it was read before.
          format = parsed ? detectFormat(record) : undefined;
          if (format === undefined) {
            stats.records++;
            malformed({
              file: src.display,
              line: lineNo,
              message: `unrecognized format: expected one of ${Object.values(RECORD_FORMATS)
                .map((f) => f.title)
                .join('; ')}`,
            });
            return; // nothing in this file can be read; no checkpoint, so a later run reports it again
          }
        }
        if (lineNo <= skipThrough) continue;
        if (!parsed && chunk.unterminated && i === lines.length - 1 && src.path !== '-') {
          // A writer may still be appending this line: leave it, and the file, for the next run.
          stats.incompleteLastLines = (stats.incompleteLastLines ?? 0) + 1;
          incomplete = true;
          continue;
        }
        linesDone = lineNo;
        stats.records++;
        if (!parsed) {
          malformed({
            file: src.display,
            line: lineNo,
            message: `not valid JSON: ${shorten((record as Error).message)}`,
          });
          continue;
        }
        try {
          format.handle(record, { source: src.display, line: lineNo }, flows, stats);
        } catch (err) {
          // Any failure of one record is that record's problem: count it and go on.
          malformed(issueOf(err, { file: src.display, line: lineNo }));
          continue;
        }
        if (flows.length >= batchSize) {
          yield { flows, checkpoint: checkpoint(false) };
          flows = [];
        }
      }
    }
  } catch (err) {
    if (err instanceof FlowwrightError && err.location?.line !== undefined) throw err; // strict mode
    // The file could not be read to its end (truncated gzip, I/O error): keep what was read, not done,
    // so that a later run continues after the last good line.
    malformed({ file: src.display, line: linesDone + 1, message: readErrorMessage(err) });
    if (flows.length > 0 || checkpointSource !== undefined) yield { flows, checkpoint: checkpoint(false) };
    return;
  }
  if (flows.length > 0 || checkpointSource !== undefined) yield { flows, checkpoint: checkpoint(!incomplete) };
}

function detectFormat(record: unknown): RecordFormat | undefined {
  for (const format of Object.values(RECORD_FORMATS)) if (format.detect(record)) return format;
  return undefined;
}

/** Blank or whitespace only; trim() only runs for lines that start with whitespace. */
function isBlank(line: string): boolean {
  if (line.length === 0) return true;
  const c = line.charCodeAt(0);
  return (c === 32 || c === 9) && line.trim().length === 0;
}

function shorten(message: string): string {
  return message.length > 160 ? `${message.slice(0, 157)}...` : message;
}

function readErrorMessage(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'file disappeared while reading';
  if (code === 'EACCES') return 'permission denied';
  return `cannot read further: ${shorten(err instanceof Error ? err.message : String(err))}`;
}
