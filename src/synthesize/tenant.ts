// The tenant baseline: traffic between tenants is denied, except the cross-tenant edges that were
// observed, which are allowed one by one and listed in the summary for review. A tenant is the value of
// a namespace label (`--tenant-label team`), or, without it, each namespace on its own; namespaces
// without the label, and the shared `kube-*` namespaces in namespace mode, belong to no tenant and are
// left to the per-workload policies.
//
// Two renderings of the same baseline:
//   - Calico: a Tier `flowwright-tenants` (order 100, before the default tier) holding one
//     GlobalNetworkPolicy per tenant: Allow the observed exceptions, Deny other tenants, Pass the rest on
//     to the policies of the next tier (the per-workload policies).
//   - AdminNetworkPolicy (policy.networking.k8s.io/v1alpha1), one per tenant with an explicit priority:
//     Allow the exceptions, Deny other tenants; what matches neither is left to NetworkPolicy.
import { type Graph, usageError } from '../model/index.js';
import { CALICO_NAMESPACE_LABEL, calicoNamespaceSelector, calicoQuote, calicoSelector, isLabelKey } from './calico.js';
import { compareStrings, selectEdges } from './edges.js';
import { edgeEvidence } from './evidence.js';
import {
  emptySummary,
  type PoliciesOptions,
  type Proposal,
  type ProposalFile,
  type ProposalSummary,
  type YamlComment,
} from './types.js';
import { DNS_PORT, isDnsEdge, kubeDnsTest, MANAGED_BY_LABELS, NAMESPACE_NAME_LABEL } from './workloads.js';

export const TENANT_TIER = 'flowwright-tenants';
export const TENANT_TIER_ORDER = 100;
export const TENANT_POLICY_ORDER = 100;
/** AdminNetworkPolicy priorities of the tenants start here (lower wins; 0-1000). */
export const TENANT_ANP_PRIORITY = 50;
const SHARED_NAMESPACES = ['kube-node-lease', 'kube-public', 'kube-system'];

export type TenantOptions = Pick<PoliciesOptions, 'minFlows' | 'allowDropped' | 'tenantLabel'>;

interface Exception {
  src: string;
  dst: string;
  srcNamespace: string;
  dstNamespace: string;
  srcSelector?: Record<string, string>;
  dstSelector?: Record<string, string>;
  ports: Array<{ protocol: string; port: number }>;
  from: string;
  to: string;
  evidence: string;
}

/** A tenant's name as it may appear in an object name. */
function slug(tenant: string): string {
  return (
    tenant
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'tenant'
  );
}

export function proposeTenantBaseline(graph: Graph, opts: TenantOptions): Proposal {
  const summary: ProposalSummary = emptySummary();
  const label = opts.tenantLabel;
  // The label goes into selector expressions unquoted (`has(team)`): only a well-formed key may.
  if (label && !isLabelKey(label)) throw usageError(`--tenant-label: '${label}' is not a Kubernetes label key`);
  // Namespace → tenant, from the namespace labels the flows showed.
  const tenantOf = new Map<string, string | undefined>();
  for (const node of graph.peers.values()) {
    if (node.peer.type !== 'workload' || tenantOf.get(node.peer.namespace) !== undefined) continue;
    const ns = node.peer.namespace;
    if (label) tenantOf.set(ns, node.namespaceLabels?.[label]);
    else tenantOf.set(ns, ns.startsWith('kube-') ? undefined : ns);
  }
  const tenants = new Map<string, string[]>();
  for (const [ns, t] of [...tenantOf].sort(([a], [b]) => compareStrings(a, b))) {
    if (t === undefined) {
      summary.notes.push(
        label
          ? `namespace ${ns} has no ${label} label: it belongs to no tenant and the baseline leaves it alone`
          : `namespace ${ns} is shared infrastructure: it belongs to no tenant and the baseline leaves it alone`,
      );
      continue;
    }
    tenants.set(t, [...(tenants.get(t) ?? []), ns]);
  }

  const isDns = kubeDnsTest(graph);
  const selection = selectEdges(graph.edges, opts);
  summary.observedButDenied = selection.observedButDenied;
  summary.belowThreshold = selection.belowThreshold;
  const exceptions = new Map<string, Exception>();
  for (const r of selection.rules) {
    const e = r.edge;
    const s = graph.peers.get(e.src);
    const d = graph.peers.get(e.dst);
    if (s?.peer.type !== 'workload' || d?.peer.type !== 'workload') continue;
    const from = tenantOf.get(s.peer.namespace);
    const to = tenantOf.get(d.peer.namespace);
    if (from === undefined || to === undefined || from === to) continue;
    if (!['TCP', 'UDP', 'SCTP'].includes(e.protocol) || e.port < 1) {
      summary.unsupported.push({
        src: e.src,
        dst: e.dst,
        protocol: e.protocol,
        port: e.port,
        why: 'cross-tenant edge without a port: denied by the baseline',
      });
      continue;
    }
    const key = `${e.src}>${e.dst}`;
    let ex = exceptions.get(key);
    if (!ex) {
      ex = {
        src: e.src,
        dst: e.dst,
        srcNamespace: s.peer.namespace,
        dstNamespace: d.peer.namespace,
        srcSelector: s.selector && Object.keys(s.selector).length > 0 ? s.selector : undefined,
        dstSelector: d.selector && Object.keys(d.selector).length > 0 ? d.selector : undefined,
        ports: [],
        from,
        to,
        evidence: '',
      };
      exceptions.set(key, ex);
      // A selector Calico cannot say safely is treated as no selector (the whole namespace), and noted.
      for (const end of ['srcSelector', 'dstSelector'] as const) {
        const sel = ex[end];
        if (sel && Object.keys(sel).some((k) => !isLabelKey(k) || (sel[k].includes("'") && sel[k].includes('"'))))
          ex[end] = undefined;
      }
      if (!ex.srcSelector || !ex.dstSelector)
        summary.notes.push(
          `${e.src} -> ${e.dst}: an end has no stable selector, so the exception covers its whole namespace`,
        );
    }
    const ports = isDnsEdge(e, isDns)
      ? [
          { protocol: 'UDP', port: DNS_PORT },
          { protocol: 'TCP', port: DNS_PORT },
        ]
      : [{ protocol: e.protocol, port: e.port }];
    for (const p of ports) if (!ex.ports.some((x) => x.protocol === p.protocol && x.port === p.port)) ex.ports.push(p);
    ex.ports.sort((a, b) => compareStrings(a.protocol, b.protocol) || a.port - b.port);
    ex.evidence = ex.evidence ? `${ex.evidence}\n${edgeEvidence(graph, r)}` : edgeEvidence(graph, r);
    summary.crossTenant ??= [];
    summary.crossTenant.push({ src: e.src, dst: e.dst, protocol: e.protocol, port: e.port, from, to });
  }
  if (tenants.size === 0) {
    summary.notes.push('no tenant found: no baseline proposed');
    return { files: [], summary };
  }
  const list = [...exceptions.values()];
  const files = [calicoFile(tenants, list, label), adminFile(tenants, list, label)];
  summary.policies = tenants.size * 2 + 1;
  summary.rules = files.reduce((n, f) => n + f.documents.reduce((m, d) => m + rulesIn(d), 0), 0);
  return { files, summary };
}

function rulesIn(doc: Record<string, unknown>): number {
  const spec = doc.spec as { ingress?: unknown[]; egress?: unknown[] } | undefined;
  return (spec?.ingress?.length ?? 0) + (spec?.egress?.length ?? 0);
}

// ---------------------------------------------------------------------------------------------
// Calico: a tier and one GlobalNetworkPolicy per tenant.

function calicoTenantSelector(label: string, tenant: string, namespaces: string[]): string {
  if (label) return `${label} == ${calicoQuote(tenant)}`;
  return namespaces.length === 1
    ? calicoNamespaceSelector(namespaces[0])
    : `${CALICO_NAMESPACE_LABEL} in {${namespaces.map(calicoQuote).join(', ')}}`;
}

function calicoOthers(label: string, tenant: string): string {
  if (label) return `has(${label}) && ${label} != ${calicoQuote(tenant)}`;
  return `${CALICO_NAMESPACE_LABEL} != ${calicoQuote(tenant)} && !(${CALICO_NAMESPACE_LABEL} starts with 'kube-')`;
}

function calicoFile(tenants: Map<string, string[]>, exceptions: Exception[], label: string): ProposalFile {
  const docs: Record<string, unknown>[] = [];
  const comments: YamlComment[] = [
    {
      document: 0,
      path: [],
      text:
        `flowwright tenant baseline (Calico): tenants are ${label ? `values of the namespace label ${label}` : 'namespaces'}.\n` +
        'Traffic between tenants is denied except the observed edges allowed below; everything else passes on to the next tier.\n' +
        'Tiers need Calico Enterprise/Cloud or Calico Open Source 3.28 or later.',
    },
  ];
  docs.push({
    apiVersion: 'projectcalico.org/v3',
    kind: 'Tier',
    metadata: { name: TENANT_TIER, labels: { ...MANAGED_BY_LABELS } },
    spec: { order: TENANT_TIER_ORDER },
  });
  for (const [tenant, namespaces] of tenants) {
    const doc = docs.length;
    const ingress: Record<string, unknown>[] = [];
    const egress: Record<string, unknown>[] = [];
    for (const ex of exceptions) {
      for (const dir of ['ingress', 'egress'] as const) {
        if ((dir === 'ingress' ? ex.to : ex.from) !== tenant) continue;
        const rules = dir === 'ingress' ? ingress : egress;
        comments.push({
          document: doc,
          path: ['spec', dir, rules.length],
          text: `observed cross-tenant edge (${ex.from} -> ${ex.to}):\n${ex.evidence}`,
        });
        for (const protocol of [...new Set(ex.ports.map((p) => p.protocol))]) {
          rules.push({
            action: 'Allow',
            protocol,
            source: {
              namespaceSelector: calicoNamespaceSelector(ex.srcNamespace),
              selector: ex.srcSelector ? calicoSelector(ex.srcSelector) : 'all()',
            },
            destination: {
              namespaceSelector: calicoNamespaceSelector(ex.dstNamespace),
              selector: ex.dstSelector ? calicoSelector(ex.dstSelector) : 'all()',
              ports: ex.ports.filter((p) => p.protocol === protocol).map((p) => p.port),
            },
          });
        }
      }
    }
    const others = calicoOthers(label, tenant);
    ingress.push({ action: 'Deny', source: { namespaceSelector: others } }, { action: 'Pass' });
    egress.push({ action: 'Deny', destination: { namespaceSelector: others } }, { action: 'Pass' });
    docs.push({
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkPolicy',
      metadata: { name: `${TENANT_TIER}.tenant-${slug(tenant)}`, labels: { ...MANAGED_BY_LABELS } },
      spec: {
        tier: TENANT_TIER,
        order: TENANT_POLICY_ORDER,
        namespaceSelector: calicoTenantSelector(label, tenant, namespaces),
        types: ['Ingress', 'Egress'],
        ingress,
        egress,
      },
    });
  }
  return { path: 'tenant-baseline.calico.yaml', kind: 'GlobalNetworkPolicy', namespace: '', documents: docs, comments };
}

// ---------------------------------------------------------------------------------------------
// AdminNetworkPolicy: one per tenant.

function tenantNamespaces(label: string, tenant: string, namespaces: string[]): Record<string, unknown> {
  if (label) return { matchLabels: { [label]: tenant } };
  return namespaces.length === 1
    ? { matchLabels: { [NAMESPACE_NAME_LABEL]: namespaces[0] } }
    : { matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator: 'In', values: namespaces }] };
}

function otherTenants(label: string, tenant: string, namespaces: string[]): Record<string, unknown> {
  if (label)
    return {
      matchExpressions: [
        { key: label, operator: 'Exists' },
        { key: label, operator: 'NotIn', values: [tenant] },
      ],
    };
  return {
    matchExpressions: [
      {
        key: NAMESPACE_NAME_LABEL,
        operator: 'NotIn',
        values: [...namespaces, ...SHARED_NAMESPACES].sort(compareStrings),
      },
    ],
  };
}

function podsPeer(namespace: string, selector: Record<string, string> | undefined): Record<string, unknown> {
  return {
    pods: {
      namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: namespace } },
      podSelector: selector ? { matchLabels: { ...selector } } : {},
    },
  };
}

/** An ANP rule name: at most 100 characters. */
function ruleName(text: string): string {
  return text.length <= 100 ? text : text.slice(0, 100);
}

function adminFile(tenants: Map<string, string[]>, exceptions: Exception[], label: string): ProposalFile {
  const docs: Record<string, unknown>[] = [];
  const comments: YamlComment[] = [];
  let priority = TENANT_ANP_PRIORITY;
  for (const [tenant, namespaces] of tenants) {
    const doc = docs.length;
    if (doc === 0)
      comments.push({
        document: 0,
        path: [],
        text:
          'flowwright tenant baseline (AdminNetworkPolicy, policy.networking.k8s.io/v1alpha1): the same baseline as the\n' +
          'Calico one, for clusters whose network plugin implements AdminNetworkPolicy. Lower priority numbers win.',
      });
    const ingress: Record<string, unknown>[] = [];
    const egress: Record<string, unknown>[] = [];
    for (const ex of exceptions) {
      const ports = ex.ports.map((p) => ({ portNumber: { protocol: p.protocol, port: p.port } }));
      const name = ruleName(`observed ${ex.src} to ${ex.dst}`);
      if (ex.to === tenant) {
        comments.push({
          document: doc,
          path: ['spec', 'ingress', ingress.length],
          text: `observed cross-tenant edge:\n${ex.evidence}`,
        });
        ingress.push({ name, action: 'Allow', from: [podsPeer(ex.srcNamespace, ex.srcSelector)], ports });
      }
      if (ex.from === tenant) {
        comments.push({
          document: doc,
          path: ['spec', 'egress', egress.length],
          text: `observed cross-tenant edge:\n${ex.evidence}`,
        });
        egress.push({ name, action: 'Allow', to: [podsPeer(ex.dstNamespace, ex.dstSelector)], ports });
      }
    }
    const others = otherTenants(label, tenant, namespaces);
    ingress.push({ name: 'deny other tenants', action: 'Deny', from: [{ namespaces: others }] });
    egress.push({ name: 'deny other tenants', action: 'Deny', to: [{ namespaces: others }] });
    docs.push({
      apiVersion: 'policy.networking.k8s.io/v1alpha1',
      kind: 'AdminNetworkPolicy',
      metadata: { name: `flowwright-tenant-${slug(tenant)}`, labels: { ...MANAGED_BY_LABELS } },
      spec: {
        priority: priority++,
        subject: { namespaces: tenantNamespaces(label, tenant, namespaces) },
        ingress,
        egress,
      },
    });
  }
  return {
    path: 'tenant-baseline.adminnetworkpolicy.yaml',
    kind: 'AdminNetworkPolicy',
    namespace: '',
    documents: docs,
    comments,
  };
}
