// The command line as users and scripts see it: a real process per command (through tsx), real files, a
// real SQLite database. Checks the summary lines, the output formats, the files `propose --out` writes,
// and the exit codes that scripts rely on.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { parseAllDocuments } from 'yaml';
import { EXIT_CODES } from '../../src/model/index.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const SAMPLE = join(ROOT, 'samples/shop-hubble.jsonl.gz');
// The processes run in a temporary directory, where the bare name `tsx` would not resolve.
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

let dir: string;
let db: string;

function flowwright(args: string[], input?: string, timeoutMs?: number) {
  const r = spawnSync(process.execPath, ['--import', TSX, join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: dir,
    input,
    timeout: timeoutMs,
    encoding: 'utf8',
    env: { ...process.env, FLOWWRIGHT_DB: '', NO_COLOR: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'flowwright-cli-'));
  db = join(dir, 'shop.db');
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('flowwright ingest', () => {
  it('ingests the bundled sample and prints the summary line', () => {
    const r = flowwright(['ingest', SAMPLE, '--db', db]);
    assert.equal(r.code, EXIT_CODES.ok, r.stderr);
    assert.match(r.stderr, /ingested 12,000 flows from 12,008 records in .* \([\d,]+ flows\/s\)/);
    assert.match(r.stderr, /5,000 replies skipped, 8 non-flow records, 0 malformed/);
    assert.match(r.stderr, /graph: 48 edges, 16 workloads/);
    assert.equal(r.stdout, '', 'the summary goes to stderr, stdout stays for data');
  });

  it('a second ingest of the same file reads nothing and changes nothing', () => {
    const before = flowwright(['graph', '--db', db, '--format', 'json']).stdout;
    const r = flowwright(['ingest', SAMPLE, '--db', db]);
    assert.equal(r.code, EXIT_CODES.ok, r.stderr);
    assert.match(r.stderr, /ingested 0 flows/);
    assert.equal(flowwright(['graph', '--db', db, '--format', 'json']).stdout, before);
  });

  it('counts a malformed line with file and line and goes on; --strict stops with exit 3', () => {
    const file = join(dir, 'bad.json');
    const good = readFirstFlowLine();
    writeFileSync(file, `${good}\n{"flow": {"time": \n${good}\n`);
    const lenient = flowwright(['ingest', file, '--db', join(dir, 'bad.db')]);
    assert.equal(lenient.code, EXIT_CODES.ok, lenient.stderr);
    assert.match(lenient.stderr, /1 malformed/);
    assert.match(lenient.stderr, /bad\.json:2/);
    const strict = flowwright(['ingest', file, '--strict', '--db', join(dir, 'strict.db')]);
    assert.equal(strict.code, EXIT_CODES.input);
    assert.match(strict.stderr, /^flowwright: .*bad\.json:2/m);
    assert.doesNotMatch(strict.stderr, /\n\s+at /, 'no stack trace for a user mistake');
  });

  it('reads stdin with -', () => {
    const r = flowwright(['ingest', '-', '--db', join(dir, 'stdin.db')], `${readFirstFlowLine()}\n`);
    assert.equal(r.code, EXIT_CODES.ok, r.stderr);
    assert.match(r.stderr, /ingested 1 flows? /);
  });

  it('says how many flows had no reply flag at all (counted as requests)', () => {
    const udp = JSON.stringify({
      flow: {
        time: '2024-06-03T10:00:00Z',
        verdict: 'FORWARDED',
        IP: { source: '10.244.1.10', destination: '10.244.2.20' },
        l4: { UDP: { source_port: 40000, destination_port: 53 } },
        source: { namespace: 'shop', labels: ['k8s:app=web'], pod_name: 'web-1' },
        destination: { namespace: 'kube-system', labels: ['k8s:k8s-app=kube-dns'], pod_name: 'coredns-1' },
      },
    });
    const r = flowwright(['ingest', '-', '--db', join(dir, 'unknown-reply.db')], `${udp}\n`);
    assert.equal(r.code, EXIT_CODES.ok, r.stderr);
    assert.match(r.stderr, /, 1 reply unknown \(counted as requests\)/);
  });

  it('a missing input is bad input (3); an unknown option is a usage error (2)', () => {
    const missing = flowwright(['ingest', join(dir, 'nope.json'), '--db', join(dir, 'x.db')]);
    assert.equal(missing.code, EXIT_CODES.input);
    assert.match(missing.stderr, /nope\.json/);
    assert.equal(flowwright(['ingest', SAMPLE, '--no-such-flag']).code, EXIT_CODES.usage);
    assert.equal(flowwright(['no-such-command']).code, EXIT_CODES.usage);
  });

  it('a database that cannot be opened is a store error (5)', () => {
    const notADb = join(dir, 'not-a-db');
    writeFileSync(notADb, 'this is not SQLite, just text that is long enough to have a header page'.repeat(20));
    const r = flowwright(['ingest', SAMPLE, '--db', notADb]);
    assert.equal(r.code, EXIT_CODES.store, r.stderr);
    assert.match(r.stderr, /not-a-db/);
  });
});

describe('flowwright collect --to-kafka', () => {
  it('exits (4) when the brokers cannot be reached, instead of waiting out --duration', () => {
    const r = flowwright(
      ['collect', '--from', 'files', '--input', SAMPLE, '--to-kafka', '--kafka-brokers', '127.0.0.1:1'].concat([
        '--topic',
        'deltas',
        '--duration',
        '1h',
        '--db',
        join(dir, 'ship.db'),
      ]),
      undefined,
      120_000,
    );
    assert.equal(r.code, EXIT_CODES.unreachable, r.stderr);
    assert.match(r.stderr, /cannot connect to Kafka at 127\.0\.0\.1:1/);
  });
});

describe('flowwright graph', () => {
  it('prints a table by default, and json, dot and mermaid on request', () => {
    const table = flowwright(['graph', '--db', db]);
    assert.equal(table.code, EXIT_CODES.ok, table.stderr);
    assert.match(table.stdout, /^SOURCE\s+DESTINATION\s+PORT/);
    assert.match(table.stdout, /shop\/frontend\s+shop\/cartservice\s+7070\/TCP/);

    const json = JSON.parse(flowwright(['graph', '--db', db, '--format', 'json']).stdout);
    assert.equal(json.edges.length, 48);

    const dot = flowwright(['graph', '--db', db, '--format', 'dot']).stdout;
    assert.match(dot, /^digraph /);
    assert.match(dot, /style="?dashed/, 'dropped-only edges are dashed');

    const mermaid = flowwright(['graph', '--db', db, '--format', 'mermaid']).stdout;
    assert.match(mermaid, /^(flowchart|graph) /);
  });

  it('--namespace keeps edges with an end in that namespace', () => {
    const json = JSON.parse(flowwright(['graph', '--db', db, '--format', 'json', '--namespace', 'data']).stdout);
    assert.ok(json.edges.length > 0 && json.edges.length < 48);
    for (const e of json.edges) assert.ok(/(^|:)data\//.test(e.src) || /(^|:)data\//.test(e.dst), JSON.stringify(e));
  });

  it('an unknown format is a usage error', () => {
    assert.equal(flowwright(['graph', '--db', db, '--format', 'png']).code, EXIT_CODES.usage);
  });
});

describe('flowwright propose', () => {
  it('writes one valid NetworkPolicy file per workload and a default deny per namespace under --out', () => {
    const out = join(dir, 'policies');
    const r = flowwright(['propose', '--db', db, '--out', out]);
    assert.equal(r.code, EXIT_CODES.ok, r.stderr);
    const files = walk(out);
    assert.ok(
      files.some((f) => f.endsWith('shop/frontend.networkpolicy.yaml')),
      files.join('\n'),
    );
    assert.ok(files.some((f) => f.endsWith('shop/default-deny.networkpolicy.yaml')));
    for (const f of files) {
      for (const doc of parseAllDocuments(readFileSync(f, 'utf8'))) {
        assert.deepEqual(doc.errors, [], f);
        const obj = doc.toJS();
        assert.equal(obj.apiVersion, 'networking.k8s.io/v1', f);
        assert.equal(obj.kind, 'NetworkPolicy', f);
      }
    }
    // rerunning produces the same bytes: deterministic output
    const again = join(dir, 'policies-again');
    flowwright(['propose', '--db', db, '--out', again]);
    for (const f of files) assert.equal(readFileSync(f.replace(out, again), 'utf8'), readFileSync(f, 'utf8'));
  });

  it('prints one YAML stream to stdout without --out, and the summary to stderr', () => {
    const r = flowwright(['propose', '--db', db]);
    assert.equal(r.code, EXIT_CODES.ok, r.stderr);
    assert.match(r.stdout, /^# file: /m);
    assert.match(r.stderr, /observed but denied/i);
  });

  it('propose, verify, diff and pr refuse a window without traffic (6) instead of judging nothing', () => {
    const policies = join(dir, 'policies');
    const empty = ['--db', db, '--since', '2099-01-01T00:00:00Z'];
    for (const args of [
      ['propose'],
      ['verify', '--policies', policies],
      ['diff', '--existing', policies, '--mode', 'tighten'],
      ['pr', '--repo', ROOT, '--policies-dir', 'deploy', '--dry-run'],
    ]) {
      const r = flowwright([...args, ...empty]);
      assert.equal(r.code, EXIT_CODES.nothing, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, /no traffic learned in .* in this window/);
    }
  });

  it('an --out that cannot be written is a usage error naming it, not a crash', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    const r = flowwright(['propose', '--db', db, '--out', file]);
    assert.equal(r.code, EXIT_CODES.usage, r.stderr);
    assert.match(r.stderr, /^flowwright: --out .*a-file: cannot write .*ENOTDIR/m);
  });

  it('--no-default-deny leaves out the default-deny policies', () => {
    const r = flowwright(['propose', '--db', db, '--no-default-deny']);
    assert.doesNotMatch(r.stdout, /default-deny/);
  });

  it('a database with nothing learned is "nothing to do" (6), never an empty success', () => {
    const empty = join(dir, 'empty.db');
    flowwright(['ingest', '-', '--db', empty], '');
    const r = flowwright(['propose', '--db', empty]);
    assert.equal(r.code, EXIT_CODES.nothing);
    assert.match(r.stderr, /^flowwright: no traffic learned in .*empty\.db/m);
  });
});

describe('--help', () => {
  it('teaches every command with examples', () => {
    const top = flowwright(['--help']);
    assert.equal(top.code, EXIT_CODES.ok);
    for (const cmd of ['ingest', 'graph', 'propose', 'collect', 'replay']) {
      assert.match(top.stdout, new RegExp(`\\n  ${cmd}\\b`), `top-level help lists ${cmd}`);
      const help = flowwright([cmd, '--help']);
      assert.equal(help.code, EXIT_CODES.ok, `${cmd} --help`);
      assert.match(help.stdout, /\nExamples:\n/, `${cmd} --help has examples`);
      assert.match(help.stdout.slice(help.stdout.indexOf('Examples:')), /\$ flowwright /);
    }
  });
});

function readFirstFlowLine(): string {
  const lines = gunzipSync(readFileSync(SAMPLE)).toString('utf8').split('\n');
  const line = lines.find((l) => l.includes('"flow"') && l.includes('"is_reply":false'));
  assert.ok(line, 'the sample has a request flow');
  return line;
}

function walk(d: string): string[] {
  if (!existsSync(d)) return [];
  return readdirSync(d, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)],
  );
}
