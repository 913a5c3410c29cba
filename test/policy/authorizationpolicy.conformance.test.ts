// Istio AuthorizationPolicy conformance: each case is a set of policies and the requests it must allow,
// deny, or leave undecided (when it depends on what flows cannot show). Expectations are transcribed in
// our own words from the Istio reference and task pages cited with each case.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AuthorizationVerdict,
  compileAuthorizationPolicies,
  evaluateRequest,
  type Inventory,
  type Request,
} from '../../src/policy/index.js';
import { endpoint, load, manifest, pod, world } from './world.js';

const REF = 'https://istio.io/latest/docs/reference/config/security/authorization-policy/';
const CONCEPT = 'https://istio.io/latest/docs/concepts/security/#authorization-policies';
const TCP_TASK = 'https://istio.io/latest/docs/tasks/security/authorization/authz-tcp/';
const CONDITIONS = 'https://istio.io/latest/docs/reference/config/security/conditions/';
const NORMALIZATION = 'https://istio.io/latest/docs/reference/config/security/normalization/';
const ENVOY_PATHS = 'envoyproxy/envoy test/common/http/path_utility_test.cc (NormalizeValidPaths, InvalidPaths)';
const TEMPLATES = 'https://github.com/istio/api/pull/3162 (Operation.paths: {*} and {**} as Envoy URI templates)';

const ap = (ns: string, name: string, spec: unknown) =>
  manifest('security.istio.io/v1', 'AuthorizationPolicy', ns, name, spec);

interface Probe {
  from: string;
  to: string;
  port?: number;
  method?: string;
  path?: string;
  host?: string;
  http?: boolean;
  remoteIp?: string;
  headers?: Record<string, string>;
  expect: AuthorizationVerdict;
}

interface Case {
  name: string;
  cite: string;
  policies: object[];
  probes: Probe[];
  /** Extra checks on the decision of the first probe. */
  first?: (d: ReturnType<typeof evaluateRequest>) => void;
}

const fromNs = (ns: string) => ({ from: [{ source: { namespaces: [ns] } }] });

const CASES: Case[] = [
  {
    name: 'without any policy every request is allowed',
    cite: `${REF} (evaluation: "If there are no ALLOW policies for the workload, allow the request")`,
    policies: [],
    probes: [{ from: 'y/a', to: 'x/a', expect: 'allow' }],
  },
  {
    name: 'an empty spec in a namespace allows nothing there, and nothing elsewhere changes',
    cite: `${REF} (example allow-nothing with spec {})`,
    policies: [ap('x', 'allow-nothing', {})],
    probes: [
      { from: 'y/a', to: 'x/a', expect: 'deny' },
      { from: 'x/b', to: 'x/c', expect: 'deny' },
      { from: 'x/a', to: 'y/a', expect: 'allow' },
    ],
  },
  {
    name: 'a rule that is empty matches everything (allow-all)',
    cite: `${REF} (example allow-all with rules: [{}])`,
    policies: [ap('x', 'allow-all', { rules: [{}] })],
    probes: [{ from: 'ip:203.0.113.9', to: 'x/a', method: 'DELETE', path: '/anything', expect: 'allow' }],
  },
  {
    name: 'ALLOW policies add up: allow-nothing next to allow-all allows',
    cite: `${REF} (evaluation: "If any of the ALLOW policies match the request, allow the request")`,
    policies: [ap('x', 'allow-nothing', {}), ap('x', 'allow-all', { rules: [{}] })],
    probes: [{ from: 'y/a', to: 'x/a', expect: 'allow' }],
  },
  {
    name: 'DENY is evaluated before ALLOW',
    cite: `${REF} (evaluation order: CUSTOM, then DENY, then ALLOW)`,
    policies: [ap('x', 'allow-all', { rules: [{}] }), ap('x', 'deny-y', { action: 'DENY', rules: [fromNs('y')] })],
    probes: [
      { from: 'y/a', to: 'x/a', expect: 'deny' },
      { from: 'z/a', to: 'x/a', expect: 'allow' },
    ],
    first: (d) => assert.deepEqual(d.decidedBy, { policy: 'x/deny-y', rule: 0 }),
  },
  {
    name: 'a DENY policy without rules never matches',
    cite: `${REF} (AuthorizationPolicy.rules: "If not set, the match will never occur")`,
    policies: [ap('x', 'deny-nothing', { action: 'DENY' })],
    probes: [{ from: 'y/a', to: 'x/a', expect: 'allow' }],
  },
  {
    name: 'AUDIT policies mark requests but never change the decision',
    cite: `${REF} ("AUDIT policies do not affect whether requests are allowed or denied")`,
    policies: [ap('x', 'audit-all', { action: 'AUDIT', rules: [{}] })],
    probes: [{ from: 'y/a', to: 'x/a', expect: 'allow' }],
    first: (d) => assert.equal(d.audited, true),
  },
  {
    name: 'CUSTOM policies are not evaluated, and a warning says so',
    cite: `${REF} (CUSTOM delegates to an extension provider; flowwright cannot call it)`,
    policies: [ap('x', 'ext-authz', { action: 'CUSTOM', provider: { name: 'opa' }, rules: [{}] })],
    probes: [{ from: 'y/a', to: 'x/a', expect: 'allow' }],
    first: (d) => assert.match(d.warnings.join('\n'), /CUSTOM policy \(provider opa\)/),
  },
  {
    name: 'a policy in the root namespace applies to every namespace; with a selector, to matching workloads everywhere',
    cite: `${REF} (scope: "If set to root namespace, the policy applies to all namespaces in a mesh"; selector example in istio-system)`,
    policies: [ap('istio-system', 'deny-a-everywhere', { selector: { matchLabels: { pod: 'a' } } })],
    probes: [
      { from: 'x/b', to: 'y/a', expect: 'deny' },
      { from: 'x/b', to: 'z/a', expect: 'deny' },
      { from: 'x/a', to: 'y/b', expect: 'allow' },
    ],
  },
  {
    name: 'a selector restricts a namespace policy to the workloads it matches',
    cite: `${REF} (example allow-nothing with selector app: httpbin in namespace bar)`,
    policies: [ap('x', 'only-a', { selector: { matchLabels: { pod: 'a' } } })],
    probes: [
      { from: 'y/a', to: 'x/a', expect: 'deny' },
      { from: 'y/a', to: 'x/b', expect: 'allow' },
    ],
  },
  {
    name: 'principals match the mTLS identity derived from the service account; clients outside the mesh have none',
    cite: `${REF} (Source.principals: "<TRUST_DOMAIN>/ns/<NAMESPACE>/sa/<SERVICE_ACCOUNT>", requires mTLS)`,
    policies: [
      ap('x', 'from-y-a', { rules: [{ from: [{ source: { principals: ['cluster.local/ns/y/sa/sa-a'] } }] }] }),
    ],
    probes: [
      { from: 'y/a', to: 'x/a', expect: 'allow' },
      { from: 'y/b', to: 'x/a', expect: 'deny' },
      { from: 'ip:10.0.2.1', to: 'x/a', expect: 'deny' },
    ],
  },
  {
    name: 'prefix, suffix and negative matches on principals',
    cite: `${REF} (Rule: exact, prefix "abc*", suffix "*abc" and presence "*" matches; Source.notPrincipals)`,
    policies: [
      ap('x', 'prefix', {
        rules: [{ from: [{ source: { principals: ['cluster.local/ns/y/*'], notPrincipals: ['*/sa/sa-c'] } }] }],
      }),
    ],
    probes: [
      { from: 'y/a', to: 'x/a', expect: 'allow' },
      { from: 'y/c', to: 'x/a', expect: 'deny' },
      { from: 'z/a', to: 'x/a', expect: 'deny' },
    ],
  },
  {
    name: 'namespaces and notNamespaces',
    cite: `${REF} (Source.namespaces / notNamespaces, derived from the peer certificate)`,
    policies: [ap('x', 'not-z', { rules: [{ from: [{ source: { notNamespaces: ['z'] } }] }] })],
    probes: [
      { from: 'y/c', to: 'x/a', expect: 'allow' },
      { from: 'z/c', to: 'x/a', expect: 'deny' },
    ],
  },
  {
    name: 'fields of one source are ANDed; sources of one rule are ORed',
    cite: `${REF} (Source: "Fields in the source are ANDed together"; Rule: "A match occurs when at least one source, one operation and all conditions matches")`,
    policies: [
      ap('x', 'and-or', {
        rules: [
          {
            from: [
              { source: { namespaces: ['y'], principals: ['*/sa/sa-a'] } },
              { source: { namespaces: ['z'], principals: ['*/sa/sa-b'] } },
            ],
          },
        ],
      }),
    ],
    probes: [
      { from: 'y/a', to: 'x/a', expect: 'allow' },
      { from: 'z/b', to: 'x/a', expect: 'allow' },
      { from: 'y/b', to: 'x/a', expect: 'deny' },
      { from: 'z/a', to: 'x/a', expect: 'deny' },
    ],
  },
  {
    name: 'from and to of one rule are ANDed',
    cite: `${REF} (example httpbin: principals or namespace test, to GET /info* or POST /data)`,
    policies: [
      ap('x', 'get-from-y', {
        rules: [
          { from: [{ source: { namespaces: ['y'] } }], to: [{ operation: { methods: ['GET'], paths: ['/info*'] } }] },
        ],
      }),
    ],
    probes: [
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/info/v1', expect: 'allow' },
      { from: 'y/a', to: 'x/a', method: 'POST', path: '/info', expect: 'deny' },
      { from: 'z/a', to: 'x/a', method: 'GET', path: '/info', expect: 'deny' },
    ],
  },
  {
    name: 'ipBlocks and notIpBlocks take single addresses and CIDRs',
    cite: `${REF} (Source.ipBlocks: "Single IP (e.g. 203.0.113.4) and CIDR (e.g. 203.0.113.0/24) are supported")`,
    policies: [
      ap('x', 'by-ip', {
        rules: [{ from: [{ source: { ipBlocks: ['10.0.2.0/24', '203.0.113.4'], notIpBlocks: ['10.0.2.3'] } }] }],
      }),
    ],
    probes: [
      { from: 'y/a', to: 'x/a', expect: 'allow' },
      { from: 'y/c', to: 'x/a', expect: 'deny' },
      { from: 'ip:203.0.113.4', to: 'x/a', expect: 'allow' },
      { from: 'ip:203.0.113.5', to: 'x/a', expect: 'deny' },
    ],
  },
  {
    name: 'remoteIpBlocks use the original client address when it is known',
    cite: `${REF} (Source.remoteIpBlocks: populated from X-Forwarded-For or the proxy protocol)`,
    policies: [ap('x', 'office', { rules: [{ from: [{ source: { remoteIpBlocks: ['198.51.100.0/24'] } }] }] })],
    probes: [
      { from: 'x/gw', to: 'x/a', remoteIp: '198.51.100.7', expect: 'allow' },
      { from: 'x/gw', to: 'x/a', remoteIp: '192.0.2.1', expect: 'deny' },
      { from: 'ip:198.51.100.8', to: 'x/a', expect: 'allow' },
    ],
  },
  {
    name: 'ports and notPorts compare the destination port',
    cite: `${REF} (Operation.ports / notPorts: "as specified in the connection")`,
    policies: [ap('x', 'ports', { rules: [{ to: [{ operation: { ports: ['8080', '9090'], notPorts: ['9090'] } }] }] })],
    probes: [
      { from: 'y/a', to: 'x/a', port: 8080, expect: 'allow' },
      { from: 'y/a', to: 'x/a', port: 9090, expect: 'deny' },
      { from: 'y/a', to: 'x/a', port: 80, expect: 'deny' },
    ],
  },
  {
    name: 'paths: exact, prefix, suffix and presence',
    cite: `${REF} (Rule string matches: exact, prefix, suffix, presence)`,
    policies: [
      ap('x', 'paths', {
        rules: [
          { to: [{ operation: { paths: ['/data', '/info*', '*/metrics'] } }] },
          { to: [{ operation: { methods: ['HEAD'], paths: ['*'] } }] },
        ],
      }),
    ],
    probes: [
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/data', expect: 'allow' },
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/data/1', expect: 'deny' },
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/info', expect: 'allow' },
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/app/metrics', expect: 'allow' },
      { from: 'y/a', to: 'x/a', method: 'HEAD', path: '/x', expect: 'allow' },
    ],
  },
  {
    name: 'path templates: {*} is exactly one segment, {**} any number of segments',
    cite: TEMPLATES,
    policies: [
      ap('x', 'templates', {
        rules: [{ to: [{ operation: { paths: ['/api/{*}/orders', '/files/{**}'] } }] }],
      }),
    ],
    probes: [
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/api/v1/orders', expect: 'allow' },
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/api/v1/extra/orders', expect: 'deny' },
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/api//orders', expect: 'deny' },
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/files/a/b/c.txt', expect: 'allow' },
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/filesystem', expect: 'deny' },
    ],
  },
  {
    name: 'hosts match case-insensitively, with notHosts and notMethods',
    cite: `${REF} (Operation.hosts: "The match is case-insensitive"; notHosts, notMethods)`,
    policies: [
      ap('x', 'hosts', {
        rules: [
          {
            to: [{ operation: { hosts: ['*.example.com'], notHosts: ['admin.example.com'], notMethods: ['DELETE'] } }],
          },
        ],
      }),
    ],
    probes: [
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/', host: 'API.Example.COM', expect: 'allow' },
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/', host: 'Admin.example.com', expect: 'deny' },
      { from: 'y/a', to: 'x/a', method: 'DELETE', path: '/', host: 'api.example.com', expect: 'deny' },
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/', host: 'example.org', expect: 'deny' },
    ],
  },
  {
    name: 'paths are matched after the default (BASE) normalization: no query, dot segments resolved, unreserved escapes decoded',
    cite: `${NORMALIZATION} (sections 1, 2, 4 and 5: BASE is the default; merging slashes and decoding %2F are not); ${ENVOY_PATHS}`,
    policies: [
      ap('x', 'allow-public', {
        rules: [{ to: [{ operation: { paths: ['/public/*', '/some/data/abc', '/a//b', '/enc%2Fslash'] } }] }],
      }),
      ap('x', 'deny-private', {
        action: 'DENY',
        rules: [{ to: [{ operation: { paths: ['/private', '/private/*'] } }] }],
      }),
    ],
    probes: [
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/public/x?next=/private', expect: 'allow' },
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/private?x=1', expect: 'deny' },
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/public/%2E%2E/private', expect: 'deny' },
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/public/%2e./private/key', expect: 'deny' },
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/public/..\\private', expect: 'deny' },
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/public/./data/abc/../xyz', expect: 'allow' },
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/some\\data/%61%62%63', expect: 'allow' },
      // Not the default: %2F stays encoded and repeated slashes stay repeated.
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/some%2Fdata/abc', expect: 'deny' },
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/enc%2Fslash', expect: 'allow' },
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/a//b', expect: 'allow' },
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/a/b', expect: 'deny' },
    ],
  },
  {
    name: 'the proxy refuses a path with %00 and a method that is not upper case before any policy',
    cite: `${NORMALIZATION} ("%00: the request will always be rejected with HTTP code 400"; "Method not in upper case")`,
    policies: [],
    probes: [
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/xyz/.%00../abc', expect: 'deny' },
      { from: 'y/a', to: 'x/a', method: 'get', path: '/', expect: 'deny' },
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/', expect: 'allow' },
    ],
    first: (d) => assert.match(d.reason, /refuses the request before any policy \(HTTP 400\): the path .* holds %00/),
  },
  {
    name: 'plain TCP: an ALLOW rule with HTTP-only fields never matches; a DENY rule treats them as matching',
    cite: `${TCP_TASK}; ${REF} ("For a DENY rule, missing attributes are treated as matches")`,
    policies: [
      ap('x', 'allow-get', {
        selector: { matchLabels: { pod: 'a' } },
        rules: [{ to: [{ operation: { methods: ['GET'] } }] }],
      }),
      ap('x', 'deny-post-9000', {
        selector: { matchLabels: { pod: 'b' } },
        action: 'DENY',
        rules: [{ to: [{ operation: { methods: ['POST'], ports: ['9000'] } }] }],
      }),
    ],
    probes: [
      { from: 'y/a', to: 'x/a', port: 9000, http: false, expect: 'deny' },
      { from: 'y/a', to: 'x/b', port: 9000, http: false, expect: 'deny' },
      { from: 'y/a', to: 'x/b', port: 9001, http: false, expect: 'allow' },
      { from: 'y/a', to: 'x/b', port: 9000, method: 'GET', path: '/', expect: 'allow' },
    ],
  },
  {
    name: 'when conditions on keys flowwright knows are evaluated',
    cite: `${CONDITIONS} (source.namespace, source.principal, destination.port; values and notValues)`,
    policies: [
      ap('x', 'when', {
        rules: [
          {
            when: [
              { key: 'source.namespace', values: ['y', 'z'] },
              { key: 'source.principal', notValues: ['*/sa/sa-c'] },
              { key: 'destination.port', values: ['8080'] },
            ],
          },
        ],
      }),
    ],
    probes: [
      { from: 'y/a', to: 'x/a', port: 8080, expect: 'allow' },
      { from: 'y/c', to: 'x/a', port: 8080, expect: 'deny' },
      { from: 'z/a', to: 'x/a', port: 8081, expect: 'deny' },
      { from: 'x/b', to: 'x/a', port: 8080, expect: 'deny' },
    ],
  },
  {
    name: 'when conditions on headers or JWT claims cannot be known from flows: the verdict says unknown',
    cite: `${CONDITIONS} (request.headers and request.auth.claims come from the HTTP request and its token)`,
    policies: [
      ap('x', 'claims', {
        rules: [
          {
            from: [{ source: { namespaces: ['y'] } }],
            when: [{ key: 'request.auth.claims[iss]', values: ['https://idp'] }],
          },
        ],
      }),
    ],
    probes: [
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/', expect: 'unknown' },
      { from: 'z/a', to: 'x/a', method: 'GET', path: '/', expect: 'deny' },
    ],
    first: (d) => {
      assert.equal(d.allowed, false);
      assert.match(d.reason, /cannot be fully evaluated/);
    },
  },
  {
    name: 'a header condition is evaluated when the headers are given',
    cite: `${CONDITIONS} (request.headers[name])`,
    policies: [ap('x', 'header', { rules: [{ when: [{ key: 'request.headers[x-tenant]', values: ['blue'] }] }] })],
    probes: [
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/', headers: { 'X-Tenant': 'blue' }, expect: 'allow' },
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/', headers: { 'X-Tenant': 'red' }, expect: 'deny' },
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/', expect: 'unknown' },
    ],
  },
  {
    name: 'a DENY rule that may match leaves the verdict open rather than guessing',
    cite: `${REF} (DENY before ALLOW) and ${CONCEPT}`,
    policies: [ap('x', 'deny-admin', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin*'] } }] }] })],
    probes: [
      { from: 'y/a', to: 'x/a', port: 8080, expect: 'unknown' },
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/admin/users', expect: 'deny' },
      { from: 'y/a', to: 'x/a', method: 'GET', path: '/home', expect: 'allow' },
    ],
  },
  {
    name: 'targetRefs to a Gateway apply to the gateway pods only',
    cite: `${REF} (AuthorizationPolicy.targetRef(s): a Gateway in the same namespace)`,
    policies: [
      ap('x', 'gw-allow-nothing', {
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }],
      }),
    ],
    probes: [
      { from: 'ip:203.0.113.1', to: 'x/gw', expect: 'deny' },
      { from: 'y/a', to: 'x/a', expect: 'allow' },
    ],
  },
];

function request(inv: Inventory, p: Probe): Request {
  const req: Request = {
    conn: { src: endpoint(inv, p.from), dst: endpoint(inv, p.to), protocol: 'TCP', port: p.port ?? 8080 },
  };
  for (const k of ['method', 'path', 'host', 'http', 'remoteIp', 'headers'] as const) {
    if (p[k] !== undefined) Object.assign(req, { [k]: p[k] });
  }
  return req;
}

describe('AuthorizationPolicy conformance', () => {
  it('has at least 15 cases, each citing its source', () => {
    assert.ok(CASES.length >= 15, `only ${CASES.length} cases`);
    for (const c of CASES) assert.match(c.cite, /istio\.io|github\.com\/istio/, c.name);
  });
  for (const c of CASES) {
    it(c.name, () => {
      const inv = world();
      const compiled = compileAuthorizationPolicies(load(c.policies).authorizationPolicies, {
        rootNamespace: 'istio-system',
      });
      c.probes.forEach((p, i) => {
        const d = evaluateRequest(compiled, pod(inv, p.to), request(inv, p));
        const what = `${p.from} -> ${p.to} ${p.method ?? ''} ${p.path ?? ''} port ${p.port ?? 8080}`;
        assert.equal(d.verdict, p.expect, `${what}: ${d.reason}`);
        assert.equal(d.allowed, p.expect === 'allow');
        if (i === 0) c.first?.(d);
      });
    });
  }
});
