// One table drives every shared option: its command-line flag, its FLOWWRIGHT_* variable, its key in
// flowwright.yaml, its default and its --help text. resolveConfig() applies the precedence
// flags > environment > config file > defaults once, rejects unknown config keys by name, and freezes
// the result.
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { FlowwrightError, usageError } from '../model/index.js';
import { parseCidr } from '../policy/index.js';
import { SERVE_FILE_KEYS } from '../serve/config.js';
import { DEFAULT_SYSTEM_NAMESPACES } from '../synthesize/index.js';

type Parser<T> = (raw: string, where: string) => T;

interface OptionSpec<T> {
  flag: string;
  env: string;
  description: string;
  default: T;
  parse: Parser<T>;
  /** Commander's negatable form (`--no-default-deny`) for booleans that default to true. */
  negate?: boolean;
}

export const parseInteger =
  (min: number, max = Number.MAX_SAFE_INTEGER): Parser<number> =>
  (raw, where) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max)
      throw usageError(`${where}: expected an integer from ${min} to ${max}, got '${raw}'`);
    return n;
  };

export const parseBoolean: Parser<boolean> = (raw, where) => {
  const v = String(raw).toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw usageError(`${where}: expected true or false, got '${raw}'`);
};

const parseString: Parser<string> = (raw) => String(raw);

/** `10.0.0.0/16, fd00::/64` → the same list, checked: every entry an IPv4 or IPv6 CIDR. */
const parseCidrList: Parser<string> = (raw, where) => {
  const list = splitList(String(raw));
  for (const cidr of list)
    if (!parseCidr(cidr)) throw usageError(`${where}: expected CIDRs such as 10.0.0.0/16, got '${cidr}'`);
  return list.join(',');
};

/** A comma-separated list without its blanks. */
export function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

const DURATION_UNITS: Record<string, number> = { s: 1e3, m: 60e3, h: 3_600e3, d: 86_400e3, w: 604_800e3 };

/** `90s`, `15m`, `24h`, `7d`, `2w` → milliseconds. */
export function parseDuration(raw: string, where: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d|w)$/.exec(String(raw).trim());
  if (!m) throw usageError(`${where}: expected a duration like 30s, 15m, 24h or 7d, got '${raw}'`);
  return Number(m[1]) * DURATION_UNITS[m[2]];
}

/** An RFC 3339 time, a date, or a duration meaning "that long before now" (`7d`). Returns ms, or undefined for ''. */
export function parseTime(raw: string, where: string, now = Date.now()): number | undefined {
  const s = String(raw).trim();
  if (s === '') return undefined;
  if (/^\d+(?:\.\d+)?[smhdw]$/.test(s)) return now - parseDuration(s, where);
  // RFC 3339 with an offset, or a bare date (UTC midnight): a time without an offset would be read in the
  // machine's local zone, and the same command would select another window elsewhere.
  const rfc3339 = /^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2}))?$/;
  const t = rfc3339.test(s) ? Date.parse(s) : Number.NaN;
  if (Number.isNaN(t))
    throw usageError(
      `${where}: expected an RFC 3339 time (2026-11-01T00:00:00Z) or a duration such as 7d, got '${raw}'`,
    );
  return t;
}

export const OPTIONS = {
  db: {
    flag: '--db <file>',
    env: 'FLOWWRIGHT_DB',
    description: 'SQLite database holding the learned graph',
    default: 'flowwright.db',
    parse: parseString,
  },
  strict: {
    flag: '--strict',
    env: 'FLOWWRIGHT_STRICT',
    description: 'stop at the first malformed record instead of counting and skipping it',
    default: false,
    parse: parseBoolean,
  },
  progress: {
    flag: '--no-progress',
    env: 'FLOWWRIGHT_PROGRESS',
    description: 'no progress bar on stderr (it is shown only when stderr is a terminal)',
    default: true,
    parse: parseBoolean,
    negate: true,
  },
  flushEvery: {
    flag: '--flush-every <flows>',
    env: 'FLOWWRIGHT_FLUSH_EVERY',
    description: 'write the aggregate to the database every N flows',
    default: 50_000,
    parse: parseInteger(1),
  },
  since: {
    flag: '--since <time>',
    env: 'FLOWWRIGHT_SINCE',
    description: 'learning window start: RFC 3339 time or a duration before now (7d)',
    default: '',
    parse: parseString,
  },
  until: {
    flag: '--until <time>',
    env: 'FLOWWRIGHT_UNTIL',
    description: 'learning window end (exclusive): RFC 3339 time or a duration before now',
    default: '',
    parse: parseString,
  },
  minFlows: {
    flag: '--min-flows <n>',
    env: 'FLOWWRIGHT_MIN_FLOWS',
    description: 'an edge needs at least this many allowed flows to become a rule',
    default: 1,
    parse: parseInteger(1),
  },
  cidrPrefix: {
    flag: '--cidr-prefix <bits>',
    env: 'FLOWWRIGHT_CIDR_PREFIX',
    description: 'widen external IPv4 peers to this prefix length (32 = one address)',
    default: 32,
    parse: parseInteger(0, 32),
  },
  cidrPrefixV6: {
    flag: '--cidr-prefix-v6 <bits>',
    env: 'FLOWWRIGHT_CIDR_PREFIX_V6',
    description: 'widen external IPv6 peers to this prefix length (128 = one address)',
    default: 128,
    parse: parseInteger(0, 128),
  },
  defaultDeny: {
    flag: '--no-default-deny',
    env: 'FLOWWRIGHT_DEFAULT_DENY',
    description: 'do not add a default-deny policy per namespace',
    default: true,
    parse: parseBoolean,
    negate: true,
  },
  includeSystemNamespaces: {
    flag: '--include-system-namespaces',
    env: 'FLOWWRIGHT_INCLUDE_SYSTEM_NAMESPACES',
    description: 'also add a default deny in system namespaces (see --system-namespaces)',
    default: false,
    parse: parseBoolean,
  },
  systemNamespaces: {
    flag: '--system-namespaces <list>',
    env: 'FLOWWRIGHT_SYSTEM_NAMESPACES',
    description: 'namespaces that get no default deny, comma-separated; * matches any characters',
    default: DEFAULT_SYSTEM_NAMESPACES.join(','),
    parse: parseString,
  },
  nodeCidr: {
    flag: '--node-cidr <cidrs>',
    env: 'FLOWWRIGHT_NODE_CIDR',
    description:
      "the nodes' address ranges, comma-separated CIDRs: traffic with other nodes (remote-node) is allowed to them rather than to each node address observed",
    default: '',
    parse: parseCidrList,
  },
  allowDropped: {
    flag: '--allow-dropped',
    env: 'FLOWWRIGHT_ALLOW_DROPPED',
    description: 'turn observed-but-dropped edges into allow rules too (marked in their evidence)',
    default: false,
    parse: parseBoolean,
  },
  kinds: {
    flag: '--kinds <list>',
    env: 'FLOWWRIGHT_KINDS',
    description:
      'policy kinds to propose, comma-separated: networkpolicy, authorizationpolicy, cilium, calico, tenant-baseline',
    default: 'networkpolicy',
    parse: parseString,
  },
  trustDomain: {
    flag: '--trust-domain <domain>',
    env: 'FLOWWRIGHT_TRUST_DOMAIN',
    description: 'Istio trust domain of the SPIFFE principals in AuthorizationPolicies',
    default: 'cluster.local',
    parse: parseString,
  },
  l7: {
    flag: '--l7 <level>',
    env: 'FLOWWRIGHT_L7',
    description: 'HTTP detail in AuthorizationPolicy and Cilium rules: off, methods or paths (templated)',
    default: 'paths',
    parse: (raw, where) => {
      const v = String(raw).trim().toLowerCase();
      if (v !== 'off' && v !== 'methods' && v !== 'paths')
        throw usageError(`${where}: expected off, methods or paths, got '${raw}'`);
      return v as string;
    },
  },
  tenantLabel: {
    flag: '--tenant-label <label>',
    env: 'FLOWWRIGHT_TENANT_LABEL',
    description: 'namespace label whose value names a tenant (tenant-baseline); default: each namespace is a tenant',
    default: '',
    parse: parseString,
  },
} satisfies Record<string, OptionSpec<unknown>>;

export type OptionKey = keyof typeof OPTIONS;
export type Config = { readonly [K in OptionKey]: (typeof OPTIONS)[K]['default'] };

/** Adds the listed options to a command, without commander defaults, so resolveConfig can tell what was given. */
export function addOptions(cmd: Command, keys: OptionKey[]): Command {
  for (const key of keys) {
    const spec: OptionSpec<unknown> = OPTIONS[key];
    const defaultText = spec.negate ? '' : ` (default: ${JSON.stringify(spec.default)}; env ${spec.env})`;
    cmd.option(spec.flag, `${spec.description}${defaultText}`);
  }
  cmd.option('--config <file>', 'configuration file (default: ./flowwright.yaml when present)');
  return cmd;
}

/** Reads flowwright.yaml: a mapping of option keys (camelCase, as in the README table) to values. */
function readConfigFile(path: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new FlowwrightError('usage', `cannot read configuration: ${(err as Error).message}`, { file: path });
  }
  if (doc == null) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new FlowwrightError('usage', 'expected a mapping of option names to values', { file: path });
  return doc as Record<string, unknown>;
}

/**
 * Resolves the options of one command. `flags` are commander's parsed options (undefined when not given);
 * `allowedFileKeys` lists keys of the config file that other commands or the service use, so a shared file
 * is not rejected; anything else in the file is an error that names the key.
 */
export function resolveConfig(
  flags: Record<string, unknown>,
  keys: OptionKey[],
  env: NodeJS.ProcessEnv = process.env,
  allowedFileKeys: readonly string[] = [],
): Config {
  const explicit = typeof flags.config === 'string' ? flags.config : undefined;
  const path = explicit ?? (existsSync('flowwright.yaml') ? 'flowwright.yaml' : undefined);
  const file = path ? readConfigFile(path) : {};
  for (const key of Object.keys(file)) {
    // One file serves every command: the service's own keys are checked by `flowwright serve`, not here.
    if (!(key in OPTIONS) && !allowedFileKeys.includes(key) && !(SERVE_FILE_KEYS as readonly string[]).includes(key)) {
      throw new FlowwrightError(
        'usage',
        `unknown configuration key '${key}' (known: ${Object.keys(OPTIONS).join(', ')})`,
        { file: path },
      );
    }
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(OPTIONS) as OptionKey[]) {
    const spec: OptionSpec<unknown> = OPTIONS[key];
    const flag = keys.includes(key) ? flags[key] : undefined;
    // commander sets negatable booleans to `true` when absent; only `false` means the flag was given.
    const given = spec.negate ? flag === false : flag !== undefined;
    if (given) out[key] = typeof flag === 'string' ? spec.parse(flag, spec.flag.split(' ')[0]) : flag;
    else if (env[spec.env] !== undefined) out[key] = spec.parse(env[spec.env] as string, spec.env);
    else if (file[key] !== undefined) out[key] = spec.parse(String(file[key]), `${path}: ${key}`);
    else out[key] = spec.default;
  }
  return Object.freeze(out) as Config;
}

/** The options table as Markdown, for the README (a test keeps the two in step). */
export function optionsTableMarkdown(): string {
  const rows = (Object.keys(OPTIONS) as OptionKey[]).map((key) => {
    const s: OptionSpec<unknown> = OPTIONS[key];
    return `| \`${s.flag}\` | \`${s.env}\` | \`${key}\` | ${s.negate ? String(s.default) : JSON.stringify(s.default)} | ${s.description} |`;
  });
  return ['| flag | environment | config key | default | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}
