// FlowFilter.experimental.cel_expression: CEL expressions over a flow, as Hubble evaluates them. Hubble
// binds the flow to the variable `_flow` (type flow.Flow) in the container `flow`, so that
// `_flow.verdict == Verdict.DROPPED`, `has(_flow.l4.TCP) && _flow.l4.TCP.destination_port == uint(443)`
// or `'k8s:app=web' in _flow.source.labels` work. A flow matches when any expression is true.
//
// Evaluation is @bufbuild/cel, a CEL implementation for protobuf messages: field defaults, `has()`,
// enums, unsigned integers, wrappers and RE2 `matches()` behave as in cel-go. It has no public type
// checker, so what cel-go's checker refuses is refused here by two checks before any flow is read:
//   - the expression's type, where its parts say it (a field, a literal, a conversion, an operator),
//     must be bool, and the two sides of a comparison or arithmetic operator must have the same type
//     (`destination_port == 80` compares uint with int: write `uint(80)`, as with Hubble);
//   - evaluated on an empty flow, it must give a boolean, or fail only on data (an index past the end of
//     an empty list), never on an unknown name, field or function.
// The messages are built from proto/ at first use, so the CEL types are exactly the ones the server sends.
import { isAbsolute, join } from 'node:path';
import { celEnv, isCelError, objectType, parse, plan } from '@bufbuild/cel';
import { createFileRegistry, type DescField, type DescFile, type DescMessage, fromBinary } from '@bufbuild/protobuf';
import * as wkt from '@bufbuild/protobuf/wkt';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor.js';
import { findProtoDir } from '../collect/hubble/proto.js';

/** The encoded GetFlowsResponse whose flow is to be judged. */
export type CelPredicate = (input: { response: Uint8Array }) => boolean;

interface CelRuntime {
  response: DescMessage;
  flow: DescMessage;
  env: ReturnType<typeof celEnv>;
}

let runtime: CelRuntime | undefined;

const WKT_FILES: Record<string, DescFile> = {
  'google/protobuf/any.proto': wkt.file_google_protobuf_any,
  'google/protobuf/field_mask.proto': wkt.file_google_protobuf_field_mask,
  'google/protobuf/timestamp.proto': wkt.file_google_protobuf_timestamp,
  'google/protobuf/wrappers.proto': wkt.file_google_protobuf_wrappers,
};
const WKT_BY_TYPE: Record<string, string> = {
  '.google.protobuf.Any': 'google/protobuf/any.proto',
  '.google.protobuf.FieldMask': 'google/protobuf/field_mask.proto',
  '.google.protobuf.Timestamp': 'google/protobuf/timestamp.proto',
};

// biome-ignore lint/suspicious/noExplicitAny: descriptor messages as protobufjs's descriptor extension makes them
type Descriptor = Record<string, any>;

/**
 * @bufbuild/protobuf needs file descriptors; protobufjs makes them from the parsed .proto files, with
 * two things to mend: type names relative instead of fully qualified, and the well-known types merged
 * into one file instead of their own (which @bufbuild/protobuf already has).
 */
function buildRuntime(): CelRuntime {
  const protoDir = findProtoDir();
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (isAbsolute(target) ? target : join(protoDir, target));
  root.loadSync(['observer/observer.proto', 'flow/flow.proto', 'relay/relay.proto'], { keepCase: true });
  root.resolveAll();
  // biome-ignore lint/suspicious/noExplicitAny: toDescriptor is added by the descriptor extension
  const set = (root as any).toDescriptor('proto3') as { file: Descriptor[] };
  const files = set.file.filter((f) => f.package !== 'google.protobuf');
  const fileOfPackage = new Map(files.map((f) => [f.package as string, f.name as string]));
  for (const file of files) {
    const deps = new Set<string>();
    const qualify = (message: Descriptor, scope: string) => {
      const type = root.lookupType(`${scope}.${message.name}`);
      for (const field of message.field ?? []) {
        const resolved = type.fields[field.name]?.resolvedType;
        if (!resolved) continue;
        field.typeName = resolved.fullName;
        const wellKnown =
          WKT_BY_TYPE[resolved.fullName] ??
          (resolved.fullName.startsWith('.google.protobuf.') ? 'google/protobuf/wrappers.proto' : undefined);
        const pkg = resolved.fullName.slice(1).split('.')[0];
        if (wellKnown) deps.add(wellKnown);
        else if (pkg !== file.package) deps.add(fileOfPackage.get(pkg)!);
      }
      for (const nested of message.nestedType ?? []) qualify(nested, `${scope}.${message.name}`);
    };
    for (const message of file.messageType ?? []) qualify(message, file.package);
    file.dependency = [...deps];
  }
  // Dependencies before the files that import them.
  const ordered: Descriptor[] = [];
  const visit = (f: Descriptor) => {
    if (ordered.includes(f)) return;
    for (const dep of f.dependency as string[]) {
      const own = files.find((x) => x.name === dep);
      if (own) visit(own);
    }
    ordered.push(f);
  };
  for (const f of files) visit(f);
  set.file = ordered;
  const encoded = (descriptor as unknown as { FileDescriptorSet: protobuf.Type }).FileDescriptorSet.encode(
    set,
  ).finish();
  const fds = fromBinary(wkt.FileDescriptorSetSchema, encoded);
  fds.file.unshift(...Object.values(WKT_FILES).map((f) => f.proto));
  const registry = createFileRegistry(fds);
  const flow = registry.getMessage('flow.Flow');
  const response = registry.getMessage('observer.GetFlowsResponse');
  if (!flow || !response) throw new Error('flow.Flow missing from the CEL registry');
  const env = celEnv({ namespace: 'flow', registry, variables: { _flow: objectType(flow) } });
  return { flow, response, env };
}

const STATIC_ERRORS =
  /^(unresolved attribute|field not found|unbound function|no such overload|no matching overload|unknown type)/;

/** Compiles the expressions of one filter; throws an Error saying what is wrong with the first bad one. */
export function compileCelExpressions(expressions: string[]): CelPredicate {
  runtime ??= buildRuntime();
  const rt = runtime;
  const programs = expressions.map((expression) => {
    if (expression.trim() === '') throw new Error('empty expression');
    let parsed: ReturnType<typeof parse>;
    try {
      parsed = parse(expression);
    } catch (err) {
      throw new Error(`${expression}: ${(err as Error).message.split('\n')[0]}`);
    }
    const type = staticType(parsed.expr, rt.flow);
    if (type !== undefined && type !== 'bool')
      throw new Error(`${expression}: got '${type}', wanted 'bool' result type`);
    const program = plan(rt.env, parsed);
    const probe = program({ _flow: fromBinary(rt.flow, new Uint8Array()) });
    if (isCelError(probe)) {
      if (STATIC_ERRORS.test(probe.message)) throw new Error(`${expression}: ${probe.message}`);
    } else if (typeof probe !== 'boolean') {
      throw new Error(`${expression}: the result is not a boolean`);
    }
    return program;
  });
  return ({ response }) => {
    const decoded = fromBinary(rt.response, response) as unknown as {
      responseTypes: { case?: string; value?: unknown };
    };
    if (decoded.responseTypes.case !== 'flow') return false;
    const bindings = { _flow: decoded.responseTypes.value as never };
    // A program that fails on this flow does not match it, as in Hubble.
    return programs.some((p) => p(bindings) === true);
  };
}

// ---------------------------------------------------------------------------------------------------
// The static part of cel-go's type check that matters for filters

type CelType = 'bool' | 'int' | 'uint' | 'double' | 'string' | 'bytes' | 'null' | 'timestamp' | 'message' | 'list';

// biome-ignore lint/suspicious/noExplicitAny: the parsed expression tree of @bufbuild/cel-spec
type Expr = any;

const COMPARISONS = new Set(['_==_', '_!=_', '_<_', '_<=_', '_>_', '_>=_']);
const ARITHMETIC = new Set(['_+_', '_-_', '_*_', '_/_', '_%_']);
const BOOLEAN_CALLS = new Set([
  '_&&_',
  '_||_',
  '!_',
  '@in',
  'startsWith',
  'endsWith',
  'contains',
  'matches',
  ...COMPARISONS,
]);
const CONVERSIONS: Record<string, CelType> = {
  int: 'int',
  uint: 'uint',
  double: 'double',
  string: 'string',
  bytes: 'bytes',
  bool: 'bool',
  timestamp: 'timestamp',
  size: 'int',
};

/** The type of `expr` when its parts say it, else undefined (unknown to this check; evaluation decides). */
function staticType(expr: Expr, flow: DescMessage): CelType | undefined {
  const kind = expr?.exprKind?.case;
  const v = expr?.exprKind?.value;
  switch (kind) {
    case 'constExpr':
      return CONSTANT_TYPES[v.constantKind?.case as string];
    case 'selectExpr': {
      if (v.testOnly) return 'bool'; // has()
      const field = resolveField(expr, flow);
      return field ? fieldType(field) : undefined;
    }
    case 'callExpr': {
      const fn: string = v.function;
      const args: Expr[] = v.args ?? [];
      if (COMPARISONS.has(fn) || ARITHMETIC.has(fn)) {
        const [a, b] = args.map((x) => staticType(x, flow));
        if (a && b && a !== b && a !== 'null' && b !== 'null')
          throw new Error(`found no matching overload for '${fn}' applied to '(${a}, ${b})'`);
        return COMPARISONS.has(fn) ? 'bool' : a;
      }
      if (BOOLEAN_CALLS.has(fn)) return 'bool';
      if (fn in CONVERSIONS) return CONVERSIONS[fn];
      return undefined;
    }
    case 'comprehensionExpr':
      return undefined;
    case 'listExpr':
      return 'list';
    default:
      return undefined;
  }
}

const CONSTANT_TYPES: Record<string, CelType> = {
  boolValue: 'bool',
  int64Value: 'int',
  uint64Value: 'uint',
  doubleValue: 'double',
  stringValue: 'string',
  bytesValue: 'bytes',
  nullValue: 'null',
};

/** The flow.Flow field a `_flow.a.b.c` selection names; undefined for anything else. */
function resolveField(expr: Expr, flow: DescMessage): DescField | undefined {
  const path: string[] = [];
  let e = expr;
  while (e?.exprKind?.case === 'selectExpr') {
    path.unshift(e.exprKind.value.field);
    e = e.exprKind.value.operand;
  }
  if (e?.exprKind?.case !== 'identExpr' || e.exprKind.value.name !== '_flow') return undefined;
  let message: DescMessage | undefined = flow;
  let field: DescField | undefined;
  for (const name of path) {
    if (!message) return undefined;
    field = message.fields.find((f) => f.name === name);
    if (!field) throw new Error(`undefined field '${name}'`);
    message = field.fieldKind === 'message' ? field.message : undefined;
  }
  return field;
}

function fieldType(field: DescField): CelType | undefined {
  if (field.fieldKind === 'list' || field.fieldKind === 'map') return 'list';
  if (field.fieldKind === 'enum') return 'int';
  if (field.fieldKind === 'message') {
    if (field.message.typeName === 'google.protobuf.Timestamp') return 'timestamp';
    return field.message.typeName.startsWith('google.protobuf.') ? undefined : 'message';
  }
  // scalar: protobuf's ScalarType numbers
  switch (field.scalar) {
    case 1: // double
    case 2: // float
      return 'double';
    case 8:
      return 'bool';
    case 9:
      return 'string';
    case 12:
      return 'bytes';
    case 4: // uint64
    case 6: // fixed64
    case 7: // fixed32
    case 13: // uint32
      return 'uint';
    default:
      return 'int';
  }
}
