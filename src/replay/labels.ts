// Hubble's label filters (FlowFilter source_label, destination_label, node_labels): a Kubernetes label
// selector whose keys may carry a Cilium label source, matched against a flow's `source:key=value` labels.
//
//   `k8s:app=frontend`        the label app=frontend with source k8s
//   `app=frontend`            app=frontend from any source (a key without a source means "any")
//   `app in (a, b)`, `app notin (a)`, `app`, `!app`, `app!=x`, `replicas>2`
//   `reserved:world`          the reserved entity (a key alone: it exists)
//
// As in Hubble, the source prefix is rewritten from `src:key` to `src.key` and the result parsed as a
// Kubernetes selector (so its syntax and key rules apply); a key then matches a label when the sources
// agree (or the selector's is `any`) and the keys are equal, CIDR keys by containment.
import { cidrContains, parseCidr } from '../policy/index.js';

export type LabelSelector = (labels: readonly string[]) => boolean;

interface CiliumLabel {
  source: string;
  key: string;
  value: string;
}

type Operator = 'exists' | '!' | '=' | '!=' | 'in' | 'notin' | '>' | '<';

interface Requirement {
  source: string;
  key: string;
  op: Operator;
  values: string[];
}

/** Parses one selector; throws an Error saying what is wrong (the caller names the filter field). */
export function parseLabelSelector(selector: string): LabelSelector {
  const requirements = parseKubernetesSelector(translateSources(selector));
  return (labels) => {
    const parsed = labels.map(parseCiliumLabel).sort((a, b) => compare(a.key, b.key) || compare(a.source, b.source));
    return requirements.every((r) => matches(r, parsed));
  };
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** `k8s:app in (a)` → `k8s.app in (a)`, `app=x` → `any.app=x`: the first `:` of each key becomes a dot. */
function translateSources(selector: string): string {
  let out = '';
  let i = 0;
  const n = selector.length;
  while (i < n) {
    // up to the next key: whitespace and `!`
    while (i < n && (/\s/.test(selector[i]) || selector[i] === '!')) out += selector[i++];
    if (i >= n) break;
    let key = '';
    while (i < n && !/[\s=!,]/.test(selector[i])) key += selector[i++];
    out += key.includes(':') ? key.replace(':', '.') : `any.${key}`;
    // up to the comma that ends this requirement (commas inside parentheses belong to a value list)
    let depth = 0;
    while (i < n) {
      const c = selector[i++];
      out += c;
      if (c === '(') depth++;
      else if (c === ')') depth--;
      else if (c === ',' && depth === 0) break;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Kubernetes selector syntax (k8s.io/apimachinery labels.Parse)

type Token = { kind: 'id'; text: string } | { kind: 'op'; text: string } | { kind: 'end' };

const SPECIAL = new Set(['=', '!', '(', ')', ',', '>', '<']);

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
    } else if (SPECIAL.has(c)) {
      // `==` and `!=` are one operator each
      const two = text.slice(i, i + 2);
      if (two === '==' || two === '!=') {
        tokens.push({ kind: 'op', text: two });
        i += 2;
      } else {
        tokens.push({ kind: 'op', text: c });
        i++;
      }
    } else {
      let id = '';
      while (i < text.length && !/\s/.test(text[i]) && !SPECIAL.has(text[i])) id += text[i++];
      tokens.push({ kind: 'id', text: id });
    }
  }
  tokens.push({ kind: 'end' });
  return tokens;
}

function parseKubernetesSelector(text: string): Requirement[] {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = () => tokens[pos];
  const next = () => tokens[pos++];
  const isOp = (t: Token, op: string) => t.kind === 'op' && t.text === op;
  const describe = (t: Token) => (t.kind === 'end' ? 'the end' : `'${t.text}'`);
  const requirements: Requirement[] = [];
  if (peek().kind === 'end') return requirements; // the empty selector selects everything
  for (;;) {
    let op: Operator | undefined;
    if (isOp(peek(), '!')) {
      next();
      op = '!';
    }
    const keyToken = next();
    if (keyToken.kind !== 'id') throw new Error(`found ${describe(keyToken)}, expected a label key`);
    const dotted = keyToken.text;
    validateKey(dotted);
    const values: string[] = [];
    if (op === undefined) {
      const t = peek();
      if (t.kind === 'end' || isOp(t, ',')) op = 'exists';
      else {
        next();
        if (isOp(t, '=') || isOp(t, '==')) op = '=';
        else if (isOp(t, '!=')) op = '!=';
        else if (isOp(t, '>')) op = '>';
        else if (isOp(t, '<')) op = '<';
        else if (t.kind === 'id' && (t.text === 'in' || t.text === 'notin')) op = t.text;
        else throw new Error(`found ${describe(t)}, expected one of =, ==, !=, in, notin, >, <`);
        if (op === 'in' || op === 'notin') {
          if (!isOp(next(), '(')) throw new Error(`expected '(' after '${op}'`);
          for (;;) {
            const v = peek();
            if (isOp(v, ')')) break;
            if (v.kind === 'id') {
              values.push(v.text);
              next();
            } else if (isOp(v, ',')) {
              values.push('');
            } else throw new Error(`found ${describe(v)} in the values of '${dotted}'`);
            if (isOp(peek(), ',')) {
              next();
              if (isOp(peek(), ')')) values.push('');
            }
          }
          next();
          if (values.length === 0) throw new Error(`'${op}' needs at least one value`);
        } else {
          const v = peek();
          if (v.kind === 'id') {
            values.push(v.text);
            next();
          } else if (v.kind === 'end' || isOp(v, ',')) values.push('');
          else throw new Error(`found ${describe(v)}, expected a value for '${dotted}'`);
        }
        for (const v of values) validateValue(v);
        if ((op === '>' || op === '<') && !/^[-+]?\d+$/.test(values[0]))
          throw new Error(`for '${op}', the value must be an integer: '${values[0]}'`);
      }
    }
    // Every key has a source after translation: `any.app`, `k8s.app`, `reserved.world`.
    const dot = dotted.indexOf('.');
    requirements.push({ source: dotted.slice(0, dot), key: dotted.slice(dot + 1), op, values });
    const t = next();
    if (t.kind === 'end') return requirements;
    if (!isOp(t, ',')) throw new Error(`found ${describe(t)}, expected ','`);
  }
}

const NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function validateKey(key: string): void {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)))
    throw new Error(`invalid label key '${key}': the prefix must be a DNS subdomain`);
  if (name.length > 63 || !NAME.test(name))
    throw new Error(
      `invalid label key '${key}': a name of at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
    );
}

function validateValue(value: string): void {
  if (value !== '' && (value.length > 63 || !NAME.test(value)))
    throw new Error(
      `invalid label value '${value}': at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
    );
}

// ---------------------------------------------------------------------------------------------------
// Matching

/** `k8s:app=frontend` → {k8s, app, frontend}; a label without a source has source `unspec`. */
function parseCiliumLabel(text: string): CiliumLabel {
  let source = 'unspec';
  let rest = text;
  if (text.startsWith('$')) {
    source = 'reserved';
    rest = text.slice(1);
  } else {
    const colon = text.indexOf(':');
    if (colon >= 0) {
      source = text.slice(0, colon);
      rest = text.slice(colon + 1);
    } else if (text.startsWith('reserved.')) {
      source = 'reserved';
      rest = text.slice('reserved.'.length);
    }
  }
  const eq = rest.indexOf('=');
  if (eq < 0) return { source, key: rest, value: '' };
  if (eq === 0 && source === 'reserved') return { source, key: rest.slice(1), value: '' };
  return { source, key: rest.slice(0, eq), value: rest.slice(eq + 1) };
}

/** Cilium writes IPv6 prefixes in label keys with `-` for `:`. */
const cidrOfKey = (key: string) => parseCidr(key.replaceAll('-', ':'));

function hasKey(label: CiliumLabel, source: string, key: string): boolean {
  if (source !== 'any' && label.source !== source) return false;
  if (source === 'cidr' && label.source === 'cidr') {
    const want = cidrOfKey(key);
    const have = cidrOfKey(label.key);
    if (!want || !have) return false;
    return want.prefix <= have.prefix && cidrContains(want, { v6: have.v6, value: have.base });
  }
  return label.key === key;
}

function matches(r: Requirement, labels: CiliumLabel[]): boolean {
  const found = labels.find((l) => hasKey(l, r.source, r.key));
  switch (r.op) {
    case 'exists':
      return found !== undefined;
    case '!':
      return found === undefined;
    case '=':
    case 'in':
      return found !== undefined && r.values.includes(found.value);
    case '!=':
    case 'notin':
      return found === undefined || !r.values.includes(found.value);
    case '>':
    case '<': {
      if (found === undefined || !/^[-+]?\d+$/.test(found.value)) return false;
      const have = BigInt(found.value);
      const want = BigInt(r.values[0]);
      return r.op === '>' ? have > want : have < want;
    }
  }
}
