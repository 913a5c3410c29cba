// GetFlowsRequest.field_mask: only the named Flow fields are sent, as Hubble does it (cilium/cilium
// pkg/hubble/parser/fieldmask). Paths are proto field names, `.` going into sub-messages
// (`source.pod_name`, `l4.TCP.destination_port`); a path under another one adds nothing. The response's
// own `time` and `node_name` are the masked flow's, so they are empty unless the mask keeps them.
import type protobuf from 'protobufjs';
import { FilterError, type FlowMessage } from './filter.js';

/** A tree of field names; an empty subtree keeps the whole field. */
type MaskTree = Map<string, MaskTree>;

export interface FieldMask {
  /** The flow with only the masked fields, as a plain object protobufjs can encode. */
  apply(flow: FlowMessage): Record<string, unknown>;
}

/** Undefined when there is no mask or it has no paths (the whole flow is sent); throws FilterError for a bad path. */
export function compileFieldMask(paths: string[] | undefined, flowType: protobuf.Type): FieldMask | undefined {
  if (!paths || paths.length === 0) return undefined;
  const tree: MaskTree = new Map();
  for (const path of paths) {
    validatePath(path, flowType);
    addPath(tree, path.split('.'));
  }
  return { apply: (flow) => copyMasked(tree, flow, flowType) };
}

function validatePath(path: string, flowType: protobuf.Type): void {
  let type: protobuf.Type | undefined = flowType;
  const parts = path.split('.');
  for (let i = 0; i < parts.length; i++) {
    const field: protobuf.Field | undefined = type?.fields[parts[i]];
    if (!field) throw new FilterError(`invalid fieldmask: '${path}' names no field of flow.Flow`);
    const last = i === parts.length - 1;
    if (!last) {
      field.resolve();
      if (field.repeated || field.map || !(field.resolvedType && 'fields' in field.resolvedType))
        throw new FilterError(`invalid fieldmask: '${path}' goes into '${parts[i]}', which is not a message`);
      type = field.resolvedType as protobuf.Type;
    }
  }
}

function addPath(tree: MaskTree, parts: string[]): void {
  const [head, ...rest] = parts;
  const existing = tree.get(head);
  // A shorter path already keeps the whole field.
  if (existing !== undefined && existing.size === 0) return;
  if (rest.length === 0) {
    tree.set(head, new Map());
    return;
  }
  const sub = existing ?? new Map<string, MaskTree>();
  tree.set(head, sub);
  addPath(sub, rest);
}

function copyMasked(tree: MaskTree, source: FlowMessage | undefined, type: protobuf.Type): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, sub] of tree) {
    const present = source != null && Object.hasOwn(source, name) && source[name] != null;
    if (sub.size === 0) {
      // A leaf: copied when present (a field at its default stays out, as in proto3).
      if (present) out[name] = source[name];
      continue;
    }
    // Into a sub-message. Hubble creates it even when the flow has none (it prints as `{}`), except for
    // a oneof member that is not the one set.
    const field = type.fields[name];
    if (!present && field.partOf) continue;
    out[name] = copyMasked(sub, present ? source[name] : undefined, field.resolvedType as protobuf.Type);
  }
  return out;
}
