// Small shape checkers for the API objects flowwright writes but does not evaluate (Cilium, Calico,
// AdminNetworkPolicy): field names and types after the upstream CRDs, unknown fields refused, plus the
// few cross-field rules that the APIs enforce and a reviewer would otherwise only learn from kubectl.

type Shape =
  | { t: 'string'; enum?: readonly string[]; check?: (v: string) => string | undefined }
  | { t: 'int'; min?: number; max?: number }
  | { t: 'bool' }
  | { t: 'map' }
  | { t: 'array'; of: Shape; max?: number }
  | {
      t: 'object';
      fields: Record<string, Shape>;
      required?: readonly string[];
      check?: (o: Record<string, unknown>) => string | undefined;
    };

const str = (extra: Partial<{ enum: readonly string[]; check: (v: string) => string | undefined }> = {}): Shape => ({
  t: 'string',
  ...extra,
});
const int = (min?: number, max?: number): Shape => ({ t: 'int', min, max });
const arr = (of: Shape, max?: number): Shape => ({ t: 'array', of, max });
const obj = (
  fields: Record<string, Shape>,
  required: readonly string[] = [],
  check?: (o: Record<string, unknown>) => string | undefined,
): Shape => ({ t: 'object', fields, required, check });

/** Problems of `value` against `shape`, each with its field path. */
export function shapeProblems(value: unknown, shape: Shape, path = ''): string[] {
  const at = path || '(root)';
  switch (shape.t) {
    case 'string': {
      if (typeof value !== 'string') return [`${at}: expected a string, got ${JSON.stringify(value)}`];
      if (shape.enum && !shape.enum.includes(value))
        return [`${at}: '${value}' is not one of ${shape.enum.join(', ')}`];
      const problem = shape.check?.(value);
      return problem ? [`${at}: ${problem}`] : [];
    }
    case 'int':
      if (!Number.isInteger(value)) return [`${at}: expected an integer, got ${JSON.stringify(value)}`];
      if (
        (shape.min !== undefined && (value as number) < shape.min) ||
        (shape.max !== undefined && (value as number) > shape.max)
      )
        return [`${at}: ${value} out of range`];
      return [];
    case 'bool':
      return typeof value === 'boolean' ? [] : [`${at}: expected a boolean`];
    case 'map':
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${at}: expected a map`];
      return Object.entries(value).flatMap(([k, v]) =>
        typeof v === 'string' ? [] : [`${at}.${k}: expected a string`],
      );
    case 'array': {
      if (!Array.isArray(value)) return [`${at}: expected a list`];
      if (shape.max !== undefined && value.length > shape.max) return [`${at}: more than ${shape.max} items`];
      return value.flatMap((v, i) => shapeProblems(v, shape.of, `${path}[${i}]`));
    }
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${at}: expected an object`];
      const o = value as Record<string, unknown>;
      const out: string[] = [];
      for (const k of Object.keys(o)) {
        const field = shape.fields[k];
        if (!field) out.push(`${at}: unknown field '${k}'`);
        else out.push(...shapeProblems(o[k], field, path ? `${path}.${k}` : k));
      }
      for (const k of shape.required ?? []) if (!(k in o)) out.push(`${at}: missing required field '${k}'`);
      const problem = shape.check?.(o);
      if (problem) out.push(`${at}: ${problem}`);
      return out;
    }
  }
}

const labelSelector = obj({
  matchLabels: { t: 'map' },
  matchExpressions: arr(
    obj({ key: str(), operator: str({ enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] }), values: arr(str()) }, [
      'key',
      'operator',
    ]),
  ),
});
const metadata = (namespaced: boolean) =>
  obj(
    { name: str(), namespace: str(), labels: { t: 'map' }, annotations: { t: 'map' } },
    namespaced ? ['name', 'namespace'] : ['name'],
  );
const cidr = str({ check: (v) => (/^[0-9a-f:.]+\/\d{1,3}$/i.test(v) ? undefined : `'${v}' is not a CIDR`) });

// --- Cilium (cilium.io/v2), after the CiliumNetworkPolicy CRD ---

const ENTITIES = [
  'all',
  'world',
  'cluster',
  'host',
  'remote-node',
  'kube-apiserver',
  'health',
  'init',
  'ingress',
  'unmanaged',
  'none',
];
const ciliumPort = obj(
  {
    port: str({
      check: (v) =>
        /^\d+$/.test(v) && Number(v) >= 0 && Number(v) <= 65535 ? undefined : `port '${v}' is not a number`,
    }),
    endPort: int(0, 65535),
    protocol: str({ enum: ['TCP', 'UDP', 'SCTP', 'ANY'] }),
  },
  ['port'],
);
const regex = str({
  check: (v) => {
    try {
      new RegExp(v);
      return undefined;
    } catch {
      return `'${v}' is not a regular expression`;
    }
  },
});
const portRule = obj({
  ports: arr(ciliumPort),
  rules: obj(
    {
      http: arr(obj({ method: str(), path: regex, host: str(), headers: arr(str()) })),
      dns: arr(obj({ matchName: str(), matchPattern: str() })),
    },
    [],
    (o) => (o.http && o.dns ? 'one L7 protocol per port rule' : undefined),
  ),
});
const icmpRule = obj({ fields: arr(obj({ type: int(0, 255), family: str({ enum: ['IPv4', 'IPv6'] }) }, ['type'])) });
const ciliumRuleCheck = (o: Record<string, unknown>) => {
  if (o.toPorts && o.icmps) return 'toPorts and icmps cannot share a rule';
  const peers = Object.keys(o).filter((k) =>
    /^(from|to)(Endpoints|Entities|CIDR|CIDRSet|FQDNs|Requires|Services)$/.test(k),
  );
  if (peers.length !== 1) return `expected exactly one peer field, got ${peers.join(', ') || 'none'}`;
  return undefined;
};
const ingressRule = obj(
  {
    fromEndpoints: arr(labelSelector),
    fromEntities: arr(str({ enum: ENTITIES })),
    fromCIDR: arr(cidr),
    fromCIDRSet: arr(obj({ cidr, except: arr(cidr) }, ['cidr'])),
    toPorts: arr(portRule),
    icmps: arr(icmpRule),
  },
  [],
  (o) => {
    const problem = ciliumRuleCheck(o);
    if (problem) return problem;
    const ports = (o.toPorts ?? []) as Array<{ rules?: { dns?: unknown } }>;
    return ports.some((p) => p.rules?.dns) ? 'DNS rules belong on egress' : undefined;
  },
);
const egressRule = obj(
  {
    toEndpoints: arr(labelSelector),
    toEntities: arr(str({ enum: ENTITIES })),
    toCIDR: arr(cidr),
    toCIDRSet: arr(obj({ cidr, except: arr(cidr) }, ['cidr'])),
    toFQDNs: arr(
      obj({ matchName: str(), matchPattern: str() }, [], (o) =>
        o.matchName || o.matchPattern ? undefined : 'empty FQDN selector',
      ),
    ),
    toPorts: arr(portRule),
    icmps: arr(icmpRule),
  },
  [],
  ciliumRuleCheck,
);
export const CILIUM_NETWORK_POLICY = obj(
  {
    apiVersion: str({ enum: ['cilium.io/v2'] }),
    kind: str({ enum: ['CiliumNetworkPolicy'] }),
    metadata: metadata(true),
    spec: obj(
      {
        endpointSelector: labelSelector,
        enableDefaultDeny: obj({ ingress: { t: 'bool' }, egress: { t: 'bool' } }),
        ingress: arr(ingressRule),
        egress: arr(egressRule),
        description: str(),
      },
      ['endpointSelector'],
    ),
  },
  ['apiVersion', 'kind', 'metadata', 'spec'],
);

// --- Calico (projectcalico.org/v3) ---

/** The subset of Calico's selector grammar flowwright writes, parsed strictly. */
export function calicoSelectorProblem(text: string): string | undefined {
  const value = `(?:'[^']*'|"[^"]*")`;
  const key = '[A-Za-z0-9][-A-Za-z0-9_./]*';
  const term = new RegExp(
    `^(?:all\\(\\)|has\\(${key}\\)|${key} (?:==|!=) ${value}|${key} (?:in|not in) \\{${value}(?:, ${value})*\\}|${key} starts with ${value}|!\\((.+)\\))$`,
  );
  for (const part of text.split(' && ')) {
    const m = term.exec(part);
    if (!m) return `'${part}' is not a selector term flowwright should write`;
    if (m[1]) {
      const inner = calicoSelectorProblem(m[1]);
      if (inner) return inner;
    }
  }
  return undefined;
}
const selector = str({ check: calicoSelectorProblem });
const entityRule = obj({
  nets: arr(cidr),
  notNets: arr(cidr),
  selector,
  notSelector: selector,
  namespaceSelector: selector,
  ports: arr(int(1, 65535)),
  notPorts: arr(int(1, 65535)),
});
const calicoRule = obj(
  {
    action: str({ enum: ['Allow', 'Deny', 'Log', 'Pass'] }),
    protocol: str({ enum: ['TCP', 'UDP', 'ICMP', 'ICMPv6', 'SCTP', 'UDPLite'] }),
    icmp: obj({ type: int(0, 254), code: int(0, 255) }),
    ipVersion: int(4, 6),
    source: entityRule,
    destination: entityRule,
  },
  ['action'],
  (o) => {
    const dst = o.destination as { ports?: unknown } | undefined;
    const src = o.source as { ports?: unknown } | undefined;
    if ((dst?.ports || src?.ports) && !['TCP', 'UDP', 'SCTP', 'UDPLite'].includes(o.protocol as string))
      return 'ports need protocol TCP, UDP, SCTP or UDPLite';
    if (o.icmp && o.protocol !== 'ICMP' && o.protocol !== 'ICMPv6') return 'icmp needs protocol ICMP or ICMPv6';
    return undefined;
  },
);
const calicoSpec = {
  order: int(0),
  tier: str(),
  selector,
  namespaceSelector: selector,
  types: arr(str({ enum: ['Ingress', 'Egress'] })),
  ingress: arr(calicoRule),
  egress: arr(calicoRule),
};
export const CALICO_NETWORK_POLICY = obj(
  {
    apiVersion: str({ enum: ['projectcalico.org/v3'] }),
    kind: str({ enum: ['NetworkPolicy'] }),
    metadata: metadata(true),
    spec: obj(Object.fromEntries(Object.entries(calicoSpec).filter(([k]) => k !== 'namespaceSelector')), ['selector']),
  },
  ['apiVersion', 'kind', 'metadata', 'spec'],
);
export const CALICO_GLOBAL_NETWORK_POLICY = obj(
  {
    apiVersion: str({ enum: ['projectcalico.org/v3'] }),
    kind: str({ enum: ['GlobalNetworkPolicy'] }),
    metadata: metadata(false),
    spec: obj(calicoSpec, [], (o) =>
      o.tier && !String((o as { tier: string }).tier).length ? 'empty tier' : undefined,
    ),
  },
  ['apiVersion', 'kind', 'metadata', 'spec'],
  (o) => {
    const tier = (o.spec as { tier?: string }).tier;
    const name = (o.metadata as { name: string }).name;
    return tier && tier !== 'default' && !name.startsWith(`${tier}.`) ? `name must start with '${tier}.'` : undefined;
  },
);
export const CALICO_TIER = obj(
  {
    apiVersion: str({ enum: ['projectcalico.org/v3'] }),
    kind: str({ enum: ['Tier'] }),
    metadata: metadata(false),
    spec: obj({ order: int(0) }),
  },
  ['apiVersion', 'kind', 'metadata', 'spec'],
);

// --- AdminNetworkPolicy (policy.networking.k8s.io/v1alpha1) ---

const anpPorts = arr(
  obj(
    {
      portNumber: obj({ protocol: str({ enum: ['TCP', 'UDP', 'SCTP'] }), port: int(1, 65535) }, ['protocol', 'port']),
      namedPort: str(),
    },
    [],
  ),
  100,
);
const anpPeer = obj(
  {
    namespaces: labelSelector,
    pods: obj({ namespaceSelector: labelSelector, podSelector: labelSelector }, ['namespaceSelector', 'podSelector']),
  },
  [],
  (o) => (Object.keys(o).length === 1 ? undefined : 'exactly one of namespaces, pods'),
);
const anpRule = (peers: 'from' | 'to') =>
  obj(
    {
      name: str({ check: (v) => (v.length <= 100 ? undefined : 'longer than 100 characters') }),
      action: str({ enum: ['Allow', 'Deny', 'Pass'] }),
      [peers]: arr(anpPeer, 100),
      ports: anpPorts,
    },
    ['action', peers],
  );
export const ADMIN_NETWORK_POLICY = obj(
  {
    apiVersion: str({ enum: ['policy.networking.k8s.io/v1alpha1'] }),
    kind: str({ enum: ['AdminNetworkPolicy'] }),
    metadata: metadata(false),
    spec: obj(
      {
        priority: int(0, 1000),
        subject: obj({
          namespaces: labelSelector,
          pods: obj({ namespaceSelector: labelSelector, podSelector: labelSelector }),
        }),
        ingress: arr(anpRule('from'), 100),
        egress: arr(anpRule('to'), 100),
      },
      ['priority', 'subject'],
    ),
  },
  ['apiVersion', 'kind', 'metadata', 'spec'],
);

/** The shape for a document by its kind and apiVersion. */
export function shapeFor(doc: Record<string, unknown>): Shape {
  const key = `${doc.apiVersion} ${doc.kind}`;
  switch (key) {
    case 'cilium.io/v2 CiliumNetworkPolicy':
      return CILIUM_NETWORK_POLICY;
    case 'projectcalico.org/v3 NetworkPolicy':
      return CALICO_NETWORK_POLICY;
    case 'projectcalico.org/v3 GlobalNetworkPolicy':
      return CALICO_GLOBAL_NETWORK_POLICY;
    case 'projectcalico.org/v3 Tier':
      return CALICO_TIER;
    case 'policy.networking.k8s.io/v1alpha1 AdminNetworkPolicy':
      return ADMIN_NETWORK_POLICY;
  }
  throw new Error(`no shape for ${key}`);
}
