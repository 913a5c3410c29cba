// Property-based tests of every parser that reads outside input. Inputs are real records (fixtures, sample
// lines, generated Calico logs) mutated at random, and random bytes and text. The properties:
//   - no crash: a parser either accepts its input or refuses it with a FlowwrightError (a message and,
//     where there is one, the field); any other exception (a TypeError deep in a parser) fails the test;
//   - nothing invalid gets through: every flow a parser returns names only valid Kubernetes names;
//   - every record is accounted for: a line of a file is read as a record, or counted as malformed with
//     its file and line.
// A hang fails through the test runner's timeout. `npm test` runs a bounded number of cases per property
// (FLOWWRIGHT_FUZZ_RUNS, default 150); `npm run fuzz` runs many more. A failure prints fast-check's seed
// and the shrunk input; FLOWWRIGHT_FUZZ_SEED=<seed> replays it.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { parseAllDocuments, stringify as yamlStringify } from 'yaml';
import { calicoLines } from '../../samples/calico.js';
import { shopScenario } from '../../samples/shop.js';
import { createAggregator } from '../../src/aggregate/index.js';
import { addInventoryDocument, type InventoryRead } from '../../src/cluster/file.js';
import { handleCalicoRecord, normalizeCalicoFlowLog } from '../../src/collect/calico/flowlog.js';
import {
  flowLogToGoldmane,
  loadGoldmaneProto,
  normalizeGoldmaneFlow,
  TO_OBJECT,
} from '../../src/collect/calico/proto.js';
import { handleHubbleRecord } from '../../src/collect/hubble/json.js';
import {
  decodeKeepingUnknown,
  jsonToResponse,
  loadHubbleProto,
  responseToJson,
} from '../../src/collect/hubble/proto.js';
import { readFlowFiles } from '../../src/collect/index.js';
import { decodeMessage } from '../../src/collect/kafka/decode.js';
import { encodeFragment, isDeltaRecord, parseDeltaRecord, splitDelta } from '../../src/collect/kafka/delta.js';
import { emptyDelta, emptyStats, type Flow, FlowwrightError } from '../../src/model/index.js';
import { checkFlowNames } from '../../src/model/names.js';
import { parsePolicyText } from '../../src/policy/load.js';
import { loadServeConfig } from '../../src/serve/config.js';
import { calicoDoc } from '../collect/calico-fixtures.js';
import { sharedConfig } from '../serve/helpers.js';
import { fuzzParams, hostileString, mutatedRecord, mutatedText } from './mutate.js';

const root = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'flowwright-fuzz-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function jsonLines(text: string): unknown[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return []; // the malformed fixture's bad lines are not seeds
      }
    });
}

const hubbleSeeds: unknown[] = [
  ...['bare', 'jsonpb', 'l7', 'wrapped'].flatMap((f) =>
    jsonLines(readFileSync(join(root, 'test/collect/fixtures', `${f}.jsonl`), 'utf8')),
  ),
  // Every 40th of the sample's first 4,000 lines: DNS, HTTP, drops, replies, world and host peers.
  ...jsonLines(
    gunzipSync(readFileSync(join(root, 'samples/shop-hubble.jsonl.gz')))
      .toString('utf8')
      .split('\n', 4000)
      .join('\n'),
  ).filter((_, i) => i % 40 === 0),
];

const calicoDocs: Record<string, unknown>[] = [
  calicoDoc(),
  ...[...calicoLines(shopScenario(), { events: 60, seed: 7, startMs: Date.UTC(2024, 5, 3), spanMs: 3_600_000 })].map(
    (l) => JSON.parse(l) as Record<string, unknown>,
  ),
  ...readdirSync(join(root, 'test/fixtures/real/calico')).flatMap(
    (f) => jsonLines(readFileSync(join(root, 'test/fixtures/real/calico', f), 'utf8')) as Record<string, unknown>[],
  ),
];
// As users save them: one document, an Elasticsearch hit, a search response, a _bulk action line.
const calicoSeeds: unknown[] = [
  ...calicoDocs,
  { _index: 'tigera_secure_ee_flows.cluster', _source: calicoDocs[1] },
  { hits: { total: { value: 2 }, hits: [{ _source: calicoDocs[2] }, { _source: calicoDocs[3] }] } },
  { index: { _index: 'tigera_secure_ee_flows.cluster' } },
];

/** Runs `parse`; returns the flows it gave, or undefined when it refused with a FlowwrightError. */
function acceptsOrRefuses(parse: () => Flow[] | undefined): Flow[] | undefined {
  try {
    return parse();
  } catch (err) {
    assert.ok(err instanceof FlowwrightError, `a parser threw ${(err as Error)?.stack ?? String(err)}`);
    assert.ok(err.message.length > 0, 'a refusal says why');
    return undefined;
  }
}

/** Every flow a parser accepted names only valid names (checkFlowNames throws otherwise). */
function allValid(flows: Flow[] | undefined): void {
  for (const f of flows ?? []) checkFlowNames(f);
}

describe('fuzz: every parser accepts or refuses, never crashes', () => {
  it('Hubble JSON and jsonpb records', () => {
    fc.assert(
      fc.property(mutatedRecord(hubbleSeeds), (record) => {
        allValid(
          acceptsOrRefuses(() => {
            const out: Flow[] = [];
            handleHubbleRecord(record, { source: 'fuzz.jsonl', line: 1 }, out, emptyStats());
            return out;
          }),
        );
      }),
      fuzzParams(),
    );
  });

  it('Calico flow logs, Elasticsearch hits and search responses', () => {
    fc.assert(
      fc.property(mutatedRecord(calicoSeeds), (record) => {
        allValid(
          acceptsOrRefuses(() => {
            const out: Flow[] = [];
            handleCalicoRecord(record, { source: 'flows.log', line: 1 }, out, emptyStats());
            return out;
          }),
        );
      }),
      fuzzParams(),
    );
  });

  it('Goldmane flows as the gRPC stream decodes them', () => {
    const proto = loadGoldmaneProto();
    const seeds = calicoDocs
      .slice(0, 12)
      .map((doc) =>
        proto.Flow.toObject(
          proto.Flow.fromObject(flowLogToGoldmane(doc, normalizeCalicoFlowLog(doc, { source: 's' }))),
          TO_OBJECT,
        ),
      );
    fc.assert(
      // The stream hands the normalizer a FlowResult's flow only when it is an object (goldmane.ts).
      fc.property(
        mutatedRecord(seeds).filter((f) => f !== null && typeof f === 'object' && !Array.isArray(f)),
        (flow) => {
          allValid(
            acceptsOrRefuses(() => [
              normalizeGoldmaneFlow(flow as Record<string, unknown>, { source: 'goldmane', position: '1' }),
            ]),
          );
        },
      ),
      fuzzParams(),
    );
  });

  it('protobuf from a Hubble Relay: mutated GetFlowsResponse bytes', () => {
    const proto = loadHubbleProto();
    const encoded = hubbleSeeds
      .slice(0, 30)
      .map((r) => proto.GetFlowsResponse.encode(jsonToResponse(proto, r as Record<string, unknown>)).finish());
    const edit = fc.record({
      at: fc.nat(),
      byte: fc.integer({ min: 0, max: 255 }),
      how: fc.constantFrom('set', 'insert', 'delete', 'cut'),
    });
    fc.assert(
      fc.property(fc.nat({ max: encoded.length - 1 }), fc.array(edit, { minLength: 1, maxLength: 6 }), (i, edits) => {
        const bytes = [...encoded[i]];
        for (const e of edits) {
          const at = e.at % (bytes.length + 1);
          if (e.how === 'set') bytes[at] = e.byte;
          else if (e.how === 'insert') bytes.splice(at, 0, e.byte);
          else if (e.how === 'delete') bytes.splice(at, 1);
          else bytes.length = at;
        }
        let json: Record<string, unknown>;
        try {
          json = responseToJson(proto, decodeKeepingUnknown(proto.GetFlowsResponse, Uint8Array.from(bytes)));
        } catch (err) {
          // Bytes that are not a message end the call (grpc-js reports the deserializer's failure), which
          // the collector retries with backoff; they must fail in protobufjs's decoder, not later.
          assert.match(String((err as Error).stack), /protobufjs|index out of range|invalid wire type|Reader/);
          return;
        }
        allValid(
          acceptsOrRefuses(() => {
            const out: Flow[] = [];
            handleHubbleRecord(json, { source: 'relay', position: 't' }, out, emptyStats());
            return out;
          }),
        );
      }),
      fuzzParams(),
    );
  });

  it('Kafka messages: flow lines, gzip, deltas and noise', () => {
    const aggregator = createAggregator();
    const flows: Flow[] = [];
    for (const r of hubbleSeeds) handleHubbleRecord(r, { source: 's', line: 1 }, flows, emptyStats());
    aggregator.add(flows);
    const fragments = splitDelta(aggregator.take()).map((k) => JSON.parse(encodeFragment(k.fragment)) as unknown);
    const seeds = [...hubbleSeeds.slice(0, 20), ...calicoSeeds.slice(0, 10), ...fragments];
    fc.assert(
      fc.property(
        fc.array(mutatedText(seeds), { minLength: 1, maxLength: 4 }),
        fc.constantFrom('auto', 'hubble', 'calico', 'delta') as fc.Arbitrary<'auto' | 'hubble' | 'calico' | 'delta'>,
        (lines, format) => {
          const stats = emptyStats();
          const out: Flow[] = [];
          const value = Buffer.from(lines.join('\n'));
          const decoded = decodeMessage(value, format, 'flows/0@1', out, emptyDelta(), stats);
          assert.ok(stats.records >= 1, 'the message is counted, even when it holds nothing');
          // (a record holding several documents, like a JSON array of flow logs, counts each bad one itself)
          assert.ok(stats.malformed >= decoded.malformed, 'what was refused is counted');
          for (const issue of stats.issues) assert.equal(issue.file, 'flows/0@1', 'with the message position');
          allValid(out);
        },
      ),
      fuzzParams(),
    );
    // Shipped deltas on their own (what decodeMessage hands parseDeltaRecord: records marked as deltas):
    // parsed, or refused by name.
    fc.assert(
      fc.property(mutatedRecord(fragments).filter(isDeltaRecord), (record) => {
        acceptsOrRefuses(() => {
          parseDeltaRecord(record);
          return undefined;
        });
      }),
      fuzzParams(),
    );
  });

  it('policy YAML and JSON', () => {
    const manifests = join(root, 'test/policy/fixtures/manifests');
    const seeds = readdirSync(manifests, { recursive: true })
      .map(String)
      .filter((f) => /\.ya?ml$/.test(f))
      .slice(0, 20)
      .flatMap((f) => parseAllDocuments(readFileSync(join(manifests, f), 'utf8')).map((d) => d.toJS() as unknown))
      .filter((d) => d !== null && typeof d === 'object');
    const text = fc.oneof(
      mutatedRecord(seeds.length > 0 ? seeds : [{}]).map((doc) => yamlStringify(doc) ?? ''),
      mutatedRecord(seeds.length > 0 ? seeds : [{}]).map((doc) => JSON.stringify(doc) ?? ''),
      fc.string({ unit: 'binary', maxLength: 200 }),
      hostileString.map((s) => `kind: NetworkPolicy\nmetadata: {name: ${s}}\nspec: &a {podSelector: *a}\n`),
    );
    fc.assert(
      fc.property(text, fc.constantFrom('p.yaml', 'p.json'), (t, file) => {
        acceptsOrRefuses(() => {
          parsePolicyText(t, file);
          return undefined;
        });
      }),
      fuzzParams(),
    );
  });

  it('the inventory (kubectl get ... -o json)', () => {
    const seed = JSON.parse(readFileSync(join(root, 'test/cluster/fixtures/inventory.json'), 'utf8')) as {
      items: unknown[];
    };
    // One item per seed keeps the mutations on the objects' fields rather than on which item they hit.
    const seeds = [seed, ...seed.items.slice(0, 20).map((item) => ({ kind: 'List', apiVersion: 'v1', items: [item] }))];
    fc.assert(
      fc.property(mutatedRecord(seeds, 6), (doc) => {
        acceptsOrRefuses(() => {
          const into: InventoryRead = { objects: [], ignored: {}, files: [] };
          addInventoryDocument(doc, 'inventory.json', into);
          return undefined;
        });
      }),
      fuzzParams(),
    );
  });

  it('the serve configuration', () => {
    const seed = {
      listen: '127.0.0.1:0',
      flushInterval: '10s',
      retention: '30d',
      window: '7d',
      kinds: 'networkpolicy,authorizationpolicy',
      sources: [
        { type: 'hubble-relay', address: 'hubble-relay.kube-system.svc:80', since: '1h' },
        { type: 'goldmane', name: 'calico', address: 'goldmane.calico-system.svc:7443' },
        { type: 'kafka', brokers: ['127.0.0.1:9092'], topic: 'flows', format: 'auto' },
      ],
      policies: { dir: join(dir, 'none') },
      shutdownTimeout: '25s',
    };
    fc.assert(
      fc.property(mutatedRecord([seed], 6), (doc) => {
        acceptsOrRefuses(() => {
          loadServeConfig({
            text: yamlStringify(doc) ?? '',
            file: 'flowwright.yaml',
            shared: sharedConfig(join(dir, 'x.db')),
            env: {},
          });
          return undefined;
        });
      }),
      fuzzParams(),
    );
  });
});

describe('fuzz: files — every line is read or counted as malformed with its line', () => {
  // The first line is a real record: a file's format is still decided by its first record, so a bad first
  // line drops the whole file (issue 17, point 4, is open). Every later line must be read or counted.
  it('a real first record, then good, mutated and noise lines in any order', async () => {
    const seeds = [...hubbleSeeds, ...calicoSeeds];
    let n = 0;
    const firstLine = fc.constantFrom(...seeds).map((r) => JSON.stringify(r));
    await fc.assert(
      fc.asyncProperty(firstLine, fc.array(mutatedText(seeds), { maxLength: 12 }), async (first, rest) => {
        const lines = [first, ...rest];
        const file = join(dir, `f${n++}.jsonl`);
        writeFileSync(file, `${lines.join('\n')}\n`);
        const stats = emptyStats();
        const flows: Flow[] = [];
        try {
          for await (const batch of readFlowFiles([file], { stats })) flows.push(...batch.flows);
        } catch (err) {
          // A file in which no line is a known record is refused as a whole, naming the file.
          assert.ok(err instanceof FlowwrightError, `readFlowFiles threw ${(err as Error)?.stack ?? String(err)}`);
          assert.equal(err.code, 'input');
          return;
        } finally {
          rmSync(file, { force: true });
        }
        // Blank as JSON sees it (space, tab, CR): a line of other whitespace is a malformed record.
        const nonBlank = lines.filter((l) => !/^[ \t\r]*$/.test(l)).length;
        assert.equal(stats.records, nonBlank, 'every non-blank line is a record');
        for (const issue of stats.issues) {
          assert.equal(issue.file, file);
          assert.ok(Number.isInteger(issue.line) && issue.line! >= 1 && issue.line! <= lines.length, 'with its line');
        }
        allValid(flows);
      }),
      fuzzParams(60),
    );
  });
});
