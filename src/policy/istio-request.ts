// What Istio's proxy does to a request before any AuthorizationPolicy sees it, with the mesh's default
// path normalization (BASE): the query and fragment are dropped, percent-encoded unreserved characters
// (letters, digits, "-", ".", "_", "~") are decoded once, backslashes become slashes, and "." and ".."
// segments are resolved as RFC 3986 (5.2.4) says. Encoded slashes (%2F, %5C) stay encoded and repeated
// slashes stay repeated (those are the MERGE_SLASHES and DECODE_AND_MERGE_SLASHES options, not the default).
// A path holding %00, and a method that is not upper case, are refused by the proxy (HTTP 400), so no
// policy decides them.

export type IstioRequestPath = { path: string } | { rejected: string };

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/** The path an AuthorizationPolicy's `paths` and `notPaths` are matched against. */
export function normalizeIstioPath(raw: string): IstioRequestPath {
  let path = raw;
  for (const stop of ['?', '#']) {
    const at = path.indexOf(stop);
    if (at >= 0) path = path.slice(0, at);
  }
  if (path.includes('%00')) return { rejected: `the path ${JSON.stringify(raw)} holds %00 (NUL)` };
  path = path.replace(/%([0-9A-Fa-f]{2})/g, (encoded, hex: string) => {
    const c = String.fromCharCode(Number.parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : encoded;
  });
  path = path.replaceAll('\\', '/');
  if (!path.startsWith('/')) path = `/${path}`;
  return { path: removeDotSegments(path) };
}

/** RFC 3986 5.2.4 on an absolute path: "." is dropped, ".." drops the segment before it, never above the root. */
function removeDotSegments(path: string): string {
  const segments = path.slice(1).split('/');
  const out: string[] = [];
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === '.' || segment === '..') {
      if (segment === '..') out.pop();
      if (last) out.push(''); // "/a/b/.." is "/a/", a directory
      return;
    }
    out.push(segment);
  });
  return `/${out.join('/')}`;
}

/** Why the proxy refuses a request before authorization, or undefined when it does not. */
export function istioRejects(method: string | undefined, path: string | undefined): string | undefined {
  if (method !== undefined && method !== method.toUpperCase())
    return `the method ${JSON.stringify(method)} is not upper case`;
  if (path !== undefined && path !== '') {
    const normalized = normalizeIstioPath(path);
    if ('rejected' in normalized) return normalized.rejected;
  }
  return undefined;
}
