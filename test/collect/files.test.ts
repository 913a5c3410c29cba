import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { expandInputs, FINGERPRINT_BYTES, type InputSource, readLines } from '../../src/collect/files.js';
import { FlowwrightError } from '../../src/model/index.js';

const dir = mkdtempSync(join(tmpdir(), 'fw-files-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function write(rel: string, content: string | Buffer): string {
  const path = join(dir, rel);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, content);
  return path;
}

async function allLines(src: InputSource, opts?: Parameters<typeof readLines>[1]) {
  const out: { line: number; text: string }[] = [];
  for await (const chunk of readLines(src, opts)) {
    for (let i = 0; i < chunk.lines.length; i++) out.push({ line: chunk.firstLine + i, text: chunk.lines[i] });
  }
  return out;
}

test('a directory stands for its files, recursively, sorted by path, hidden names skipped', async () => {
  write('tree/b.json', 'b');
  write('tree/a/z.json', 'z');
  write('tree/a/y/x.json', 'x');
  write('tree/a.json', 'a');
  write('tree/.hidden.json', 'h');
  write('tree/.git/config', 'c');
  write('tree/c/.cache/d.json', 'd');
  const sources = await expandInputs([join(dir, 'tree')]);
  assert.deepEqual(
    sources.map((s) => s.display.slice(dir.length + 1)),
    ['tree/a.json', 'tree/a/y/x.json', 'tree/a/z.json', 'tree/b.json'],
  );
});

test('arguments keep their order; a file given twice (also through a directory or symlink) is read once', async () => {
  const one = write('order/one.json', '1');
  const two = write('order/two.json', '2');
  symlinkSync(two, join(dir, 'order-link.json'));
  const sources = await expandInputs([two, one, join(dir, 'order'), join(dir, 'order-link.json'), '-']);
  assert.deepEqual(
    sources.map((s) => s.display),
    [two, one, '-'],
  );
  assert.deepEqual(sources[2], { path: '-', display: '-' });
});

test('a file carries its size and the sha256 of its first 64 KiB', async () => {
  const small = write('fp/small.json', 'hello\n');
  const big = Buffer.alloc(FINGERPRINT_BYTES + 1000, 'x');
  const bigPath = write('fp/big.json', big);
  const [s, b] = await expandInputs([small, bigPath]);
  assert.equal(s.size, 6);
  assert.equal(s.fingerprint, createHash('sha256').update('hello\n').digest('hex'));
  assert.equal(b.size, big.length);
  assert.equal(b.fingerprint, createHash('sha256').update(big.subarray(0, FINGERPRINT_BYTES)).digest('hex'));
  // Appending beyond the first 64 KiB keeps the fingerprint: the same file, grown.
  writeFileSync(bigPath, Buffer.concat([big, Buffer.from('more\n')]));
  const [grown] = await expandInputs([bigPath]);
  assert.equal(grown.fingerprint, b.fingerprint);
  assert.equal(grown.size, big.length + 5);
});

test('a missing path is an input error naming it', async () => {
  const missing = join(dir, 'nope', 'flows.json');
  await assert.rejects(expandInputs([missing]), (err: unknown) => {
    assert.ok(err instanceof FlowwrightError);
    assert.equal(err.code, 'input');
    assert.equal(err.message, 'no such file or directory');
    assert.deepEqual(err.location, { file: missing });
    return true;
  });
});

test('lines keep their numbers: blank lines, CRLF, BOM and a last line without newline', async () => {
  const path = write('lines/crlf.json', '\uFEFFfirst\r\n\r\nthird\n\nfifth\r\nlast');
  const [src] = await expandInputs([path]);
  assert.deepEqual(await allLines(src), [
    { line: 1, text: 'first' },
    { line: 2, text: '' },
    { line: 3, text: 'third' },
    { line: 4, text: '' },
    { line: 5, text: 'fifth' },
    { line: 6, text: 'last' },
  ]);
});

test('startLine skips earlier lines and batchLines bounds each chunk', async () => {
  const text = Array.from({ length: 10 }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
  const [src] = await expandInputs([write('lines/ten.json', text)]);
  const chunks = [];
  for await (const chunk of readLines(src, { startLine: 4, batchLines: 3 })) chunks.push(chunk);
  assert.deepEqual(
    chunks.map((c) => [c.firstLine, c.lines]),
    [
      [4, ['line 4', 'line 5', 'line 6']],
      [7, ['line 7', 'line 8', 'line 9']],
      [10, ['line 10']],
    ],
  );
  assert.equal(chunks.at(-1)!.bytesRead, Buffer.byteLength(text));
});

test('gzip is recognized by its magic bytes, whatever the name; multi-byte characters survive chunk borders', async () => {
  // Long lines with non-ASCII text, so that chunk borders fall inside lines and characters.
  const lines = Array.from({ length: 3000 }, (_, i) => `{"i":${i},"note":"${'ünïcödé ✓ '.repeat(20 + (i % 7))}"}`);
  const text = lines.join('\n') + '\n';
  const gz = gzipSync(text);
  const path = write('gz/flows.json', gz);
  const [src] = await expandInputs([path]);
  const got = await allLines(src);
  assert.equal(got.length, lines.length);
  assert.deepEqual(
    got.map((l) => l.text),
    lines,
  );
  // A plain file whose name says .gz is read as plain text.
  const [plain] = await expandInputs([write('gz/plain.json.gz', 'not compressed\n')]);
  assert.deepEqual(await allLines(plain), [{ line: 1, text: 'not compressed' }]);
});

test('concatenated gzip members (a compressed file appended to) read as one text', async () => {
  const path = write('gz/members.json', Buffer.concat([gzipSync('a\nb\n'), gzipSync('c\n')]));
  const [src] = await expandInputs([path]);
  assert.deepEqual(
    (await allLines(src)).map((l) => l.text),
    ['a', 'b', 'c'],
  );
});

test('a truncated gzip file rejects the reading with an input error', async () => {
  const gz = gzipSync('x'.repeat(10_000) + '\n' + 'y\n'.repeat(1000));
  const [src] = await expandInputs([write('gz/truncated.json', gz.subarray(0, gz.length - 20))]);
  await assert.rejects(allLines(src), (err: unknown) => err instanceof FlowwrightError && err.code === 'input');
});

test('stdin (-): plain and gzip, even when the magic bytes arrive one at a time', async () => {
  const stdin = { path: '-', display: '-' };
  const plain = Readable.from([Buffer.from('one\ntw'), Buffer.from('o\n')]);
  assert.deepEqual(
    (await allLines(stdin, { stdin: plain })).map((l) => l.text),
    ['one', 'two'],
  );
  const gz = gzipSync('alpha\nbeta\n');
  const bytes = [...gz].map((b) => Buffer.from([b]));
  const dribble = Readable.from(bytes);
  assert.deepEqual(await allLines(stdin, { stdin: dribble }), [
    { line: 1, text: 'alpha' },
    { line: 2, text: 'beta' },
  ]);
  assert.deepEqual(await allLines(stdin, { stdin: Readable.from([Buffer.from('x')]) }), [{ line: 1, text: 'x' }]);
  assert.deepEqual(await allLines(stdin, { stdin: Readable.from([]) }), []);
});

test('a symlink loop inside a directory ends; broken links are passed over', async () => {
  write('loop/a.json', 'a');
  symlinkSync(join(dir, 'loop'), join(dir, 'loop', 'again'));
  symlinkSync(join(dir, 'loop', 'missing.json'), join(dir, 'loop', 'broken.json'));
  const sources = await expandInputs([join(dir, 'loop')]);
  assert.deepEqual(
    sources.map((s) => s.display),
    [join(dir, 'loop', 'a.json')],
  );
});

test('a named pipe (such as <(hubble observe ...)) is read once, like stdin: no fingerprint', async () => {
  const fifo = join(dir, 'pipe');
  const made = spawnSync('mkfifo', [fifo]);
  assert.equal(made.status, 0, 'mkfifo is available');
  const [src] = await expandInputs([fifo]);
  assert.deepEqual(src, { path: fifo, display: fifo });
  // A writer on the other end, in another process, so that opening the pipe does not block this one.
  const writer = spawn('sh', ['-c', `printf 'one\\ntwo\\n' > '${fifo}'`]);
  const closed = new Promise((done) => writer.on('close', done));
  const lines = await allLines(src);
  assert.deepEqual(
    lines.map((l) => l.text),
    ['one', 'two'],
  );
  assert.equal(await closed, 0);
});
