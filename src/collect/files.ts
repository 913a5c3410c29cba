// Reading flow logs from disk and stdin: which files an argument stands for (expandInputs), and the lines
// inside one of them, gzip or not (readLines). Format-neutral: Hubble and Calico readers both sit on top.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, realpath, stat } from 'node:fs/promises';
import { join, normalize, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { FlowwrightError } from '../model/index.js';

export interface InputSource {
  /** Where to read: a file path, or `-` for stdin. */
  path: string;
  /** The path as the user wrote it (joined with the part found below a directory), for messages. */
  display: string;
  /** sha256 hex of the first 64 KiB of the raw bytes; absent for stdin and pipes, which cannot be read twice. */
  fingerprint?: string;
  /** Size in bytes when the source was listed; absent for stdin and pipes. */
  size?: number;
}

/** How much of a file identifies it. A file that grows by appending keeps its fingerprint once it is this long. */
export const FINGERPRINT_BYTES = 64 * 1024;

/**
 * The files that `paths` stand for, in order: each argument in the order given; a directory stands for
 * every regular file below it (recursively, hidden names skipped), sorted by path. `-` is stdin.
 * A file listed twice is read once. A path that does not exist throws an input error naming it.
 */
export async function expandInputs(paths: string[]): Promise<InputSource[]> {
  const out: InputSource[] = [];
  const seen = new Set<string>();
  for (const given of paths) {
    if (given === '-') {
      out.push({ path: '-', display: '-' });
      continue;
    }
    const info = await statOrThrow(given);
    if (info.isDirectory()) {
      const found: { path: string; display: string }[] = [];
      await walk(resolve(given), normalize(given), found, new Set());
      found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      for (const f of found) await addFile(f.path, f.display, out, seen);
    } else if (info.isFile()) {
      await addFile(resolve(given), given, out, seen);
    } else {
      // A FIFO such as bash's `<(hubble observe -o json)`: read it once, like stdin.
      out.push({ path: given, display: given });
    }
  }
  return out;
}

async function statOrThrow(path: string) {
  try {
    return await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : String(err);
    throw new FlowwrightError('input', message, { file: path }, { cause: err });
  }
}

/** Collects regular files below `dir`. `visited` holds real paths of directories, so symlink loops end. */
async function walk(dir: string, display: string, found: { path: string; display: string }[], visited: Set<string>) {
  const real = await realpath(dir);
  if (visited.has(real)) return;
  visited.add(real);
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    const shown = join(display, entry.name);
    let isDir = entry.isDirectory();
    let isFile = entry.isFile();
    if (entry.isSymbolicLink()) {
      const target = await stat(path).catch(() => undefined);
      isDir = target?.isDirectory() ?? false;
      isFile = target?.isFile() ?? false;
    }
    if (isDir) await walk(path, shown, found, visited);
    else if (isFile) found.push({ path, display: shown });
  }
}

async function addFile(path: string, display: string, out: InputSource[], seen: Set<string>) {
  const real = await realpath(path);
  if (seen.has(real)) return;
  seen.add(real);
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    const size = (await handle.stat()).size;
    const head = Buffer.alloc(Math.min(size, FINGERPRINT_BYTES));
    let filled = 0;
    while (filled < head.length) {
      const { bytesRead } = await handle.read(head, filled, head.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    const fingerprint = createHash('sha256').update(head.subarray(0, filled)).digest('hex');
    out.push({ path, display, fingerprint, size });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FlowwrightError('input', code === 'EACCES' ? 'permission denied' : String(err), { file: display });
  } finally {
    await handle?.close();
  }
}

export interface LineChunk {
  lines: string[];
  /** 1-based line number of lines[0]. */
  firstLine: number;
  /** Raw (possibly compressed) bytes read from the source so far. */
  bytesRead: number;
  /** The last line of this chunk ended the source without a newline. */
  unterminated?: boolean;
}

export interface ReadLinesOptions {
  /** First line to yield (1-based); earlier lines are read and dropped. Default 1. */
  startLine?: number;
  /** Lines per yielded chunk, at most. Default 4096. */
  batchLines?: number;
  /** Read this stream instead of process.stdin when the source is `-` (for embedding and tests). */
  stdin?: Readable;
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;
// Reads and zlib output chunks stay below the size at which the allocator maps fresh pages for every
// buffer: 256 KiB chunks cost about four times the system time of 64 KiB ones, in page faults.
const READ_CHUNK_BYTES = 64 * 1024;

/**
 * The lines of a source, in chunks of at most `batchLines`; a chunk holds lines of one piece read (or
 * decompressed), so that lines are handed on as soon as they are available. Gzip is recognized by its
 * magic bytes, not by the file name, so a compressed export named `.json` (or piped to stdin) is read too.
 * CRLF line ends and a UTF-8 byte order mark are dropped; blank lines are yielded (empty) so that line
 * numbers stay true. A last line without a newline is yielded as well. Read errors (such as a truncated gzip stream) reject the iteration.
 */
export async function* readLines(src: InputSource, opts: ReadLinesOptions = {}): AsyncGenerator<LineChunk> {
  const startLine = opts.startLine ?? 1;
  const batchLines = Math.max(1, opts.batchLines ?? 4096);
  const raw: Readable =
    src.path === '-' ? (opts.stdin ?? process.stdin) : createReadStream(src.path, { highWaterMark: READ_CHUNK_BYTES });
  const counted = { bytes: 0 };
  const decoder = new StringDecoder('utf8');

  let lineNo = 0; // number of the last line split off so far
  let batch: string[] = [];
  let batchFirst = 0;
  let carry = '';
  let first = true;

  try {
    for await (const bytes of decompressed(raw, counted)) {
      let text = decoder.write(bytes);
      if (first && text.length > 0) {
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        first = false;
      }
      if (carry.length > 0) {
        text = carry + text;
        carry = '';
      }
      let from = 0;
      for (;;) {
        const nl = text.indexOf('\n', from);
        if (nl < 0) break;
        lineNo++;
        if (lineNo >= startLine) {
          const end = nl > from && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
          if (batch.length === 0) batchFirst = lineNo;
          batch.push(text.slice(from, end));
          if (batch.length >= batchLines) {
            yield { lines: batch, firstLine: batchFirst, bytesRead: counted.bytes };
            batch = [];
          }
        }
        from = nl + 1;
      }
      carry = from < text.length ? text.slice(from) : '';
      // Hand over what this piece held rather than waiting for a full batch: the consumer parses these
      // lines while the next piece is being decompressed on the thread pool (see gunzipped).
      if (batch.length > 0) {
        yield { lines: batch, firstLine: batchFirst, bytesRead: counted.bytes };
        batch = [];
      }
    }
    const rest = carry + decoder.end();
    let unterminated = false;
    if (rest.length > 0) {
      lineNo++;
      if (lineNo >= startLine) {
        if (batch.length === 0) batchFirst = lineNo;
        batch.push(rest.charCodeAt(rest.length - 1) === 13 ? rest.slice(0, -1) : rest);
        unterminated = true;
      }
    }
    if (batch.length > 0) yield { lines: batch, firstLine: batchFirst, bytesRead: counted.bytes, unterminated };
  } catch (err) {
    // Hand over the complete lines read before the failure (not the cut-off one), then fail.
    if (batch.length > 0) yield { lines: batch, firstLine: batchFirst, bytesRead: counted.bytes };
    throw err;
  } finally {
    // Stop reading a file when the consumer stops early; stdin is not ours to close.
    if (src.path !== '-') raw.destroy();
  }
}

/**
 * The source's bytes, gunzipped when they start with the gzip magic. Counts raw bytes in `counted`.
 * A stream of a single byte is passed through as it is.
 */
async function* decompressed(raw: Readable, counted: { bytes: number }): AsyncGenerator<Buffer> {
  const chunks = raw[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head: Buffer = Buffer.alloc(0);
  let ended = false;
  // Collect at least two bytes to look at the magic (a pipe may deliver them one at a time).
  while (head.length < 2) {
    const next = await chunks.next();
    if (next.done) {
      ended = true;
      break;
    }
    const chunk = toBuffer(next.value);
    counted.bytes += chunk.length;
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
  }
  async function* rawBytes(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    if (ended) return;
    for (;;) {
      const next = await chunks.next();
      if (next.done) return;
      const chunk = toBuffer(next.value);
      counted.bytes += chunk.length;
      yield chunk;
    }
  }
  if (head.length < 2 || head[0] !== GZIP_MAGIC_0 || head[1] !== GZIP_MAGIC_1) {
    yield* rawBytes();
    return;
  }
  yield* gunzipped(rawBytes());
}

/** Compressed bytes handed to zlib per write: bounds what one write can decode into memory at once. */
const GUNZIP_WRITE_BYTES = 64 * 1024;

/**
 * Gunzips chunk by chunk. Written out rather than iterating a gunzip stream, because a stream that
 * fails (a truncated file still being written) throws away output it had decoded but not yet handed
 * over; here every byte decoded before the error is yielded first, then the error is thrown.
 *
 * zlib decodes on the thread pool, one output chunk per pass, and starts the next pass from the
 * callback that delivers the previous one. Each piece is yielded as soon as it arrives, so the next
 * pass runs while the consumer works on this one: decompression overlaps with parsing.
 */
async function* gunzipped(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const gunzip = createGunzip({ chunkSize: READ_CHUNK_BYTES });
  const out: Buffer[] = [];
  let failure: Error | undefined;
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const changed = () => new Promise<void>((resolve) => (wake = resolve));
  gunzip.on('data', (chunk: Buffer) => {
    out.push(chunk);
    notify();
  });
  gunzip.on('error', (err) => {
    failure ??= err;
    notify();
  });
  gunzip.once('end', () => {
    ended = true;
    notify();
  });
  try {
    for await (const chunk of input) {
      for (let at = 0; at < chunk.length && !failure; at += GUNZIP_WRITE_BYTES) {
        let written = false;
        gunzip.write(chunk.subarray(at, at + GUNZIP_WRITE_BYTES), () => {
          written = true;
          notify();
        });
        while (out.length > 0 || !(written || failure)) {
          if (out.length > 0) yield out.shift()!;
          else await changed();
        }
      }
      if (failure) break;
    }
    if (!failure) {
      gunzip.end();
      while (out.length > 0 || !(ended || failure)) {
        if (out.length > 0) yield out.shift()!;
        else await changed();
      }
    }
    while (out.length > 0) yield out.shift()!;
  } finally {
    gunzip.destroy();
  }
  if (failure) {
    const reason = (failure as NodeJS.ErrnoException).code === 'Z_BUF_ERROR' ? 'gzip data ends early' : 'bad gzip data';
    throw new FlowwrightError('input', `${reason}: ${failure.message}`, undefined, { cause: failure });
  }
}

function toBuffer(chunk: unknown): Buffer {
  return typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
}
