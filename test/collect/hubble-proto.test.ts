// Our .proto files are our own text, but every name and number must be upstream's: this compares them,
// message by message and field by field, with the protos of the Cilium release the hubble CLI is built
// from (cilium/cilium api/v1, fetched into the Go module cache with `go mod download`).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { isAbsolute, join } from 'node:path';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { findProtoDir } from '../../src/collect/hubble/proto.js';

const CILIUM = 'github.com/cilium/cilium@v1.19.4';

function upstreamDir(): { dir?: string; why?: string } {
  const r = spawnSync('go', ['mod', 'download', '-json', CILIUM], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.error) return { why: 'go is not installed (the upstream protos come from the Go module proxy)' };
  const info = JSON.parse(r.stdout || '{}');
  if (!info.Dir) return { why: `go mod download ${CILIUM} failed: ${info.Error ?? r.stderr}` };
  return { dir: join(info.Dir, 'api', 'v1') };
}

const upstream = upstreamDir();
const skip =
  upstream.why && process.env.FLOWWRIGHT_REQUIRE_HUBBLE !== '1' ? `proto check skipped: ${upstream.why}` : undefined;

function load(dir: string): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (isAbsolute(target) ? target : join(dir, target));
  root.loadSync(['observer/observer.proto', 'flow/flow.proto', 'relay/relay.proto'], { keepCase: true });
  root.resolveAll();
  return root;
}

/** Every difference between upstream's definitions and ours, as lines. */
function differences(up: protobuf.Root, ours: protobuf.Root): string[] {
  const out: string[] = [];
  const walk = (ns: protobuf.NamespaceBase, path: string) => {
    for (const o of ns.nestedArray) {
      const name = path ? `${path}.${o.name}` : o.name;
      if (name.startsWith('google')) continue;
      const mine = ours.lookup(name);
      if (!mine) {
        out.push(`missing ${name}`);
        continue;
      }
      if (o instanceof protobuf.Type && mine instanceof protobuf.Type) {
        for (const f of o.fieldsArray) {
          const g = mine.fields[f.name];
          if (!g) out.push(`missing field ${name}.${f.name} = ${f.id}`);
          else if (g.id !== f.id || g.type !== f.type || g.repeated !== f.repeated || g.partOf?.name !== f.partOf?.name)
            out.push(`field ${name}.${f.name}: ours ${g.type} ${g.id}, upstream ${f.type} ${f.id}`);
        }
        for (const f of mine.fieldsArray) if (!o.fields[f.name]) out.push(`field ${name}.${f.name} is not upstream's`);
      } else if (o instanceof protobuf.Enum && mine instanceof protobuf.Enum) {
        for (const [k, v] of Object.entries(o.values))
          if (mine.values[k] !== v) out.push(`enum ${name}.${k}: ours ${mine.values[k]}, upstream ${v}`);
        for (const k of Object.keys(mine.values))
          if (!(k in o.values)) out.push(`enum value ${name}.${k} is not upstream's`);
      } else if (o instanceof protobuf.Service && mine instanceof protobuf.Service) {
        for (const m of o.methodsArray) {
          const g = mine.methods[m.name];
          if (
            !g ||
            g.requestType !== m.requestType ||
            g.responseType !== m.responseType ||
            !!g.responseStream !== !!m.responseStream
          )
            out.push(`method ${name}.${m.name} differs`);
        }
      } else if (o.constructor !== mine.constructor) out.push(`${name} is another kind of definition`);
      if (o instanceof protobuf.Namespace && o.nestedArray.length > 0) walk(o, name);
    }
  };
  walk(up, '');
  return out;
}

describe('proto/ against upstream Hubble', { skip }, () => {
  it('declares every message, field, enum value and method of flow, observer and relay with upstream numbers', () => {
    assert.ok(upstream.dir, upstream.why);
    assert.deepEqual(differences(load(upstream.dir), load(findProtoDir())), []);
  });

  it('would notice a field that is missing or numbered differently', () => {
    assert.ok(upstream.dir, upstream.why);
    const ours = load(findProtoDir());
    ours.lookupType('flow.FlowFilter').remove(ours.lookupType('flow.FlowFilter').fields.destination_port);
    const ip = ours.lookupType('flow.IP');
    const version = ip.fields.ipVersion;
    ip.remove(version);
    ip.add(new protobuf.Field('ipVersion', 30, 'IPVersion'));
    ours.resolveAll();
    assert.deepEqual(differences(load(upstream.dir), ours), [
      'field flow.IP.ipVersion: ours IPVersion 30, upstream IPVersion 3',
      'missing field flow.FlowFilter.destination_port = 14',
    ]);
  });
});
