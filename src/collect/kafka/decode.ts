// One Kafka message → flows (Hubble JSON, Calico flow logs) or shipped graph-delta fragments. A message
// holds one record or newline-delimited records, optionally gzip-compressed (told by its magic bytes, so
// producers need not say). A message none of whose records can be read is poison: the consumer counts,
// logs and skips it (and may forward it to a dead-letter topic); bad records in an otherwise readable
// message are counted as malformed, like bad lines of a file.
import { gunzipSync } from 'node:zlib';
import {
  addIssue,
  type CollectStats,
  type Flow,
  FlowwrightError,
  type InputIssue,
  issueOf,
  type Origin,
} from '../../model/index.js';
import { RECORD_FORMATS, type RecordFormat } from '../index.js';
import { type DeltaFragment, isDeltaRecord, mergeFragment, parseDeltaRecord } from './delta.js';

/** What a topic carries: `auto` detects the format per message from its first record. */
export type TopicFormat = 'auto' | 'hubble' | 'calico' | 'delta';
export const TOPIC_FORMATS: readonly TopicFormat[] = ['auto', 'hubble', 'calico', 'delta'];

export interface DecodedMessage {
  /** Set when nothing in the message could be read: why, for the log and the dead-letter header. */
  poison?: string;
  /** Records that failed in an otherwise readable message (already counted in stats). */
  malformed: number;
}

/** Where a message is, as shown in logs and issues: `flows/2@1734`. */
export function messagePosition(topic: string, partition: number, offset: string): string {
  return `${topic}/${partition}@${offset}`;
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/**
 * Decodes one message value, appending flows to `flows` and shipped deltas to `deltas`, and updating
 * `stats` (records, flows, nonFlow, malformed with location). Never throws for bad input.
 */
export function decodeMessage(
  value: Buffer | null,
  format: TopicFormat,
  where: string,
  flows: Flow[],
  deltas: DeltaFragment,
  stats: CollectStats,
): DecodedMessage {
  if (value === null || value.length === 0) {
    // A tombstone or an empty message: nothing to learn, nothing wrong.
    stats.records++;
    stats.nonFlow++;
    return { malformed: 0 };
  }
  let text: string;
  try {
    const raw = value[0] === GZIP_MAGIC_0 && value[1] === GZIP_MAGIC_1 ? gunzipSync(value) : value;
    text = raw.toString('utf8');
  } catch (err) {
    stats.records++;
    return poison(stats, where, `cannot gunzip: ${(err as Error).message}`);
  }

  if (text.trim() === '') {
    // Only blank lines: as empty as a tombstone, and counted the same way (never dropped unseen).
    stats.records++;
    stats.nonFlow++;
    return { malformed: 0 };
  }

  let recordFormat: RecordFormat | 'delta' | undefined = format === 'auto' ? undefined : fixedFormat(format);
  let good = 0;
  let bad = 0;
  let firstError: InputIssue | undefined;
  const issues: InputIssue[] = [];
  let line = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const record = text.slice(start, end);
    start = end + 1;
    line++;
    if (record.trim() === '') continue;
    stats.records++;
    const issue = (err: unknown): void => {
      bad++;
      const i = issueOf(err, { file: where, line });
      firstError ??= i;
      issues.push(i);
    };
    let parsed: unknown;
    try {
      parsed = JSON.parse(record);
    } catch (err) {
      issue(
        new FlowwrightError('input', `not valid JSON: ${(err as Error).message}`, undefined, {
          kind: 'not valid JSON',
        }),
      );
      continue;
    }
    if (recordFormat === undefined) {
      recordFormat = detect(parsed);
      if (recordFormat === undefined) {
        issue(
          new FlowwrightError(
            'input',
            'unrecognized format: expected Hubble JSON, Calico flow logs or a flowwright graph-delta (first record of the message)',
            undefined,
            { kind: 'not a known record' },
          ),
        );
        break; // the rest of this message is in the same unknown format
      }
    }
    try {
      if (recordFormat === 'delta') {
        if (!isDeltaRecord(parsed)) throw new FlowwrightError('input', 'expected a flowwright graph-delta record');
        mergeFragment(deltas, parseDeltaRecord(parsed));
      } else {
        const origin: Origin = { source: where, line, position: where };
        recordFormat.handle(parsed, origin, flows, stats);
      }
      good++;
    } catch (err) {
      issue(err);
    }
  }
  if (good === 0 && bad > 0) {
    // Nothing usable: the whole message is poison, reported once rather than once per record.
    const first = firstError!;
    stats.records -= bad - 1;
    const reason = `${first.line !== undefined && line > 1 ? `line ${first.line}: ` : ''}${first.field ? `${first.field}: ` : ''}${first.message}`;
    return poison(stats, where, reason);
  }
  for (const i of issues) addIssue(stats, i);
  return { malformed: bad };
}

function poison(stats: CollectStats, where: string, reason: string): DecodedMessage {
  addIssue(stats, { file: where, message: `poison message skipped: ${shorten(reason)}` });
  return { poison: reason, malformed: 1 };
}

function fixedFormat(format: Exclude<TopicFormat, 'auto'>): RecordFormat | 'delta' {
  return format === 'delta' ? 'delta' : RECORD_FORMATS[format]!;
}

function detect(record: unknown): RecordFormat | 'delta' | undefined {
  if (isDeltaRecord(record)) return 'delta';
  for (const f of Object.values(RECORD_FORMATS)) if (f.detect(record)) return f;
  return undefined;
}

function shorten(message: string): string {
  return message.length > 160 ? `${message.slice(0, 157)}...` : message;
}
