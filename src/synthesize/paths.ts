// HTTP path templating: the concrete paths a server was asked for → a few templates that an L7 rule can
// list, so that `/api/users/123` and `/api/users/456` become one rule `/api/users/{*}` while `/cart` and
// `/cart/checkout` stay two. `{*}` stands for exactly one non-empty path segment, as in Istio's path
// templates. The rules, applied in order (the README lists them for users):
//   1. The query string and fragment are never part of a path (`/a?x=1` is `/a`).
//   2. A segment becomes `{*}` by its shape alone when it is
//      - a decimal number (`123`),
//      - a UUID (`123e4567-e89b-12d3-a456-426614174000`),
//      - a hex hash: 16+ hex digits, or 7+ that mix digits and the letters a-f (`9f86d08`),
//      - a code: 8+ capitals and digits with at least one of each (`OLJCESPC7Z`, `SKU-20240101`),
//      - a random-looking token: 8+ letters and digits whose digits come in two or more runs (`x7Gh2kLm`),
//      - a long opaque token: 20+ characters with a digit and a letter and no `/` (session ids, JWTs).
//   3. At one position under one prefix, when more than `threshold` distinct values remain, all of them
//      become `{*}` (user names, slugs, catalog ids of any shape). gRPC paths
//      (`/package.Service/Method`) are exempt: method names are a fixed API, never identifiers.
// Words, versions (`v1beta1`), `oauth2callback` and the like stay literal, so distinct routes never
// merge unless there are more of them than the threshold at the same place.
// A path from traffic is data, never a pattern. These rules are the only source of wildcards, and the
// policy writers say in their evidence which observed paths each template stands for. A path holding `*`,
// `{` or `}` (`/*`, `/.*`, `/{*}`) gets no template at all: Istio reads those characters as wildcards and
// templates and has no way to escape them, and in a template `{*}` must only ever mean what rule 2 or 3
// made. The writers leave such requests out of their layer 7 rules, and say so.

export const PATH_WILDCARD = '{*}';
export const DEFAULT_PATH_THRESHOLD = 10;

/** The path without query string or fragment; an empty result is `/`. */
export function pathOnly(raw: string): string {
  let end = raw.length;
  const q = raw.indexOf('?');
  if (q >= 0) end = q;
  const h = raw.indexOf('#');
  if (h >= 0 && h < end) end = h;
  const path = raw.slice(0, end);
  if (path === '') return '/';
  return path.startsWith('/') ? path : `/${path}`;
}

const NUMBER = /^\d+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX = /^[0-9a-f]+$/i;
const CODE = /^[A-Z0-9_-]{8,}$/;
const ALNUM = /^[A-Za-z0-9]{8,}$/;

const PATTERN_CHARACTERS = /[*{}]/;

/** Whether an observed method or path holds `*`, `{` or `}`, which Istio would read as a wildcard or template. */
export function holdsPatternCharacters(value: string): boolean {
  return PATTERN_CHARACTERS.test(value);
}

/** Rule 2: does this one segment look like an identifier by its shape? */
export function isIdSegment(segment: string): boolean {
  if (segment === '') return false;
  if (NUMBER.test(segment) || UUID.test(segment)) return true;
  const hasDigit = /\d/.test(segment);
  const hasLetter = /[A-Za-z]/.test(segment);
  if (HEX.test(segment) && (segment.length >= 16 || (segment.length >= 7 && hasDigit && /[a-f]/i.test(segment))))
    return true;
  if (CODE.test(segment) && hasDigit && /[A-Z]/.test(segment)) return true;
  if (ALNUM.test(segment) && hasDigit && hasLetter && (segment.match(/\d+/g) ?? []).length >= 2) return true;
  if (segment.length >= 20 && hasDigit && hasLetter) return true;
  return false;
}

const GRPC = /^\/[A-Za-z_][\w]*(\.[A-Za-z_]\w*)+\/[A-Za-z_]\w*$/;

/** `/package.Service/Method`: the shape of every gRPC request path. */
export function isGrpcPath(path: string): boolean {
  return GRPC.test(path);
}

/**
 * Learns templates from every concrete path a server was asked for (all callers together: the server's
 * API decides what is an identifier) and returns each input path's template: one that matches it. A path
 * holding `*`, `{` or `}` gets none (see above) and is not in the result.
 */
export function templatePaths(paths: Iterable<string>, threshold = DEFAULT_PATH_THRESHOLD): Map<string, string> {
  const unique = [...new Set(paths)].sort();
  const out = new Map<string, string>();
  const grpc: string[] = [];
  const rest: Array<{ raw: string; segments: string[] }> = [];
  for (const raw of unique) {
    const path = pathOnly(raw);
    if (holdsPatternCharacters(path)) continue;
    if (isGrpcPath(path)) {
      out.set(raw, path);
      grpc.push(raw);
      continue;
    }
    // Drop the leading '' of the split: segments[0] is the first segment after '/'.
    const segments = path
      .split('/')
      .slice(1)
      .map((s) => (isIdSegment(s) ? PATH_WILDCARD : s));
    rest.push({ raw, segments });
  }
  collapse(rest, 0, threshold);
  for (const { raw, segments } of rest) out.set(raw, `/${segments.join('/')}`);
  return out;
}

/** Rule 3, top down: paths that share the prefix before `depth` are siblings at `depth`. */
function collapse(group: Array<{ segments: string[] }>, depth: number, threshold: number): void {
  const here = group.filter((p) => p.segments.length > depth);
  if (here.length === 0) return;
  const literals = new Set(here.map((p) => p.segments[depth]).filter((s) => s !== PATH_WILDCARD && s !== ''));
  if (literals.size > threshold) {
    for (const p of here) if (literals.has(p.segments[depth])) p.segments[depth] = PATH_WILDCARD;
  }
  const bySegment = new Map<string, Array<{ segments: string[] }>>();
  for (const p of here) {
    const list = bySegment.get(p.segments[depth]);
    if (list) list.push(p);
    else bySegment.set(p.segments[depth], [p]);
  }
  for (const list of bySegment.values()) collapse(list, depth + 1, threshold);
}

/** Does a template match a concrete path (query string ignored)? `{*}` is one non-empty segment. */
export function templateMatches(template: string, path: string): boolean {
  const t = template.split('/');
  const p = pathOnly(path).split('/');
  if (t.length !== p.length) return false;
  return t.every((seg, i) => (seg === PATH_WILDCARD ? p[i] !== '' : seg === p[i]));
}

/** A string as a regular expression (RE2 or POSIX extended) that matches exactly it: metacharacters escaped. */
export function regexLiteral(text: string): string {
  return text.replace(/[.*+?^$()[\]{}|\\]/g, '\\$&');
}

/**
 * The template as a Cilium path regex (RE2, matched against the whole request path, which there includes
 * the query string): literal segments escaped, `{*}` as one segment, an optional query string at the end.
 */
export function templateRegex(template: string): string {
  const body = template
    .split('/')
    .map((seg) => (seg === PATH_WILDCARD ? '[^/?]+' : regexLiteral(seg)))
    .join('/');
  return `${body}(\\?.*)?`;
}
