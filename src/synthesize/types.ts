// The shapes every policy output kind shares: the options a proposal is made with, the files it
// produces and the summary a human reads before applying anything.

export interface ProposalOptions {
  /** An edge needs at least this many allowed flows (allowed + dropped with allowDropped) to become a rule. */
  minFlows: number;
  /** Add a default-deny policy to every namespace that got at least one policy. */
  defaultDeny: boolean;
  /** Turn edges that were only ever dropped into rules too, marked as such in their evidence. */
  allowDropped: boolean;
  /** Prefix length external IPv4 peers are widened to (32 = one address). */
  cidrPrefixV4: number;
  /** Prefix length external IPv6 peers are widened to (128 = one address). */
  cidrPrefixV6: number;
  /** Also write a default deny in system namespaces (see systemNamespaces). */
  includeSystemNamespaces: boolean;
  /** Namespaces of the cluster itself, the CNI and the mesh: names, or patterns with `*`. */
  systemNamespaces: readonly string[];
  /** The nodes' address ranges (CIDRs): other nodes are allowed by these instead of each observed address. */
  nodeCidrs: readonly string[];
}

/** kube-system and friends, and the namespaces the CNI and mesh installers create. */
export const DEFAULT_SYSTEM_NAMESPACES: readonly string[] = Object.freeze([
  'kube-system',
  'kube-public',
  'kube-node-lease',
  'cilium*',
  'calico-*',
  'tigera-*',
  'istio-system',
  'gke-*',
]);

export const DEFAULT_PROPOSAL_OPTIONS: Readonly<ProposalOptions> = Object.freeze({
  minFlows: 1,
  defaultDeny: true,
  allowDropped: false,
  cidrPrefixV4: 32,
  cidrPrefixV6: 128,
  includeSystemNamespaces: false,
  systemNamespaces: DEFAULT_SYSTEM_NAMESPACES,
  nodeCidrs: [],
});

/**
 * A YAML comment to attach to a node when a file is rendered: the evidence behind a rule or a peer.
 * `path` is the key/index path inside document number `document`; an empty path means the comment
 * goes at the top of that document.
 */
export interface YamlComment {
  document: number;
  path: Array<string | number>;
  text: string;
}

export interface ProposalFile {
  /** Relative path under the output directory, e.g. `shop/frontend.networkpolicy.yaml`. */
  path: string;
  /** The kind of policy in the file, e.g. `NetworkPolicy`. */
  kind: string;
  namespace: string;
  /** The peer key of the workload the file is for; absent for namespace-wide files (default deny). */
  workload?: string;
  documents: Record<string, unknown>[];
  /** Evidence comments, rendered by renderProposalFile. */
  comments?: YamlComment[];
}

export interface DeniedEdge {
  src: string;
  dst: string;
  protocol: string;
  port: number;
  /** Dropped (or error) flows on the edge. */
  flows: number;
  reasons: string[];
  lastSeen: number;
}

export interface UnsupportedEdge {
  src: string;
  dst: string;
  protocol: string;
  port: number;
  why: string;
}

export interface ProposalSummary {
  /** Workloads that got a policy of their own. */
  workloads: number;
  /** Policies proposed, default-deny policies included. */
  policies: number;
  /** Ingress and egress rules across all policies. */
  rules: number;
  /** Edges whose flows were only dropped: not allowed unless --allow-dropped, listed for a human to decide. */
  observedButDenied: DeniedEdge[];
  /** Edges skipped because they had fewer allowed flows than --min-flows. */
  belowThreshold: number;
  /** Edges the output kind cannot express (ICMP, unknown port, peers without a selector...). */
  unsupported: UnsupportedEdge[];
  /** Workloads without a stable selector: no policy until they carry a distinguishing label. */
  needsLabels: Array<{ workload: string; why: string }>;
  /**
   * Namespaces that got no default deny although workloads there got policies: a system namespace, or one
   * holding observed pods that no proposed policy selects (a default deny would cut them off), listed with why.
   */
  defaultDenyLeftOut?: Array<{ namespace: string; why: string; pods: Array<{ pod: string; why: string }> }>;
  /** Callers without a known identity (service account), allowed by their namespace instead (AuthorizationPolicy). */
  namespaceFallbacks?: Array<{ caller: string; namespace: string }>;
  /** Edges across tenants that the tenant baseline lets through because they were observed. */
  crossTenant?: Array<{ src: string; dst: string; protocol: string; port: number; from: string; to: string }>;
  notes: string[];
}

export interface Proposal {
  files: ProposalFile[];
  summary: ProposalSummary;
}

export function emptySummary(): ProposalSummary {
  return {
    workloads: 0,
    policies: 0,
    rules: 0,
    observedButDenied: [],
    belowThreshold: 0,
    unsupported: [],
    needsLabels: [],
    notes: [],
  };
}

// ---------------------------------------------------------------------------------------------
// Every output kind at once: `proposePolicies` and `flowwright propose --kinds`.

/** The output kinds, in the order their files are listed. */
export const POLICY_KINDS = ['networkpolicy', 'authorizationpolicy', 'cilium', 'calico', 'tenant-baseline'] as const;
export type PolicyKind = (typeof POLICY_KINDS)[number];

/** How much of the observed HTTP detail goes into L7 rules (AuthorizationPolicy, CiliumNetworkPolicy). */
export type L7Level = 'off' | 'methods' | 'paths';
export const L7_LEVELS: readonly L7Level[] = ['off', 'methods', 'paths'];

export interface PoliciesOptions extends ProposalOptions {
  kinds: PolicyKind[];
  /** Istio trust domain of the SPIFFE principals, `cluster.local` unless the mesh says otherwise. */
  trustDomain: string;
  l7: L7Level;
  /** More distinct values than this at one path position (under one prefix) become `{*}`. */
  pathThreshold: number;
  /** Namespace label whose value names a tenant; empty: every namespace is its own tenant. */
  tenantLabel: string;
  /** AuthorizationPolicy: add an allow-nothing policy per namespace (opt-in). */
  istioAllowNothing: boolean;
  /** AuthorizationPolicy: add a PeerAuthentication with mTLS STRICT per namespace (opt-in). */
  istioStrictMtls: boolean;
}

export const DEFAULT_POLICIES_OPTIONS: Readonly<PoliciesOptions> = Object.freeze({
  ...DEFAULT_PROPOSAL_OPTIONS,
  kinds: ['networkpolicy'] as PolicyKind[],
  trustDomain: 'cluster.local',
  l7: 'paths' as L7Level,
  pathThreshold: 10,
  tenantLabel: '',
  istioAllowNothing: false,
  istioStrictMtls: false,
});

/** The files of every selected kind (sorted by path) and one summary per kind. */
export interface PoliciesProposal {
  files: ProposalFile[];
  summaries: Array<{ kind: PolicyKind; summary: ProposalSummary }>;
}
