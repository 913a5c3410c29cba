// The policy manifests as flowwright reads them: parsed, validated and with the API defaults applied
// (policyTypes, protocols, namespaces), so that evaluators never look at raw YAML.

/** Where a manifest came from. `document` is 1-based; `item` is the index inside a `kind: List`. */
export interface PolicySource {
  file: string;
  document: number;
  item?: number;
}

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface LabelSelectorRequirement {
  key: string;
  operator: SelectorOperator;
  values: string[];
}

/** A Kubernetes label selector. Both parts empty means "everything". */
export interface LabelSelector {
  matchLabels: Record<string, string>;
  matchExpressions: LabelSelectorRequirement[];
}

export type L4Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface IpBlock {
  cidr: string;
  except: string[];
}

/**
 * One `from`/`to` entry. The API allows either ipBlock alone, or podSelector and/or namespaceSelector.
 * An absent selector is `undefined`; an empty one is a selector with no terms (matches all).
 */
export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: IpBlock;
}

export interface NetworkPolicyPort {
  /** Defaulted to TCP when the manifest leaves it out. */
  protocol: L4Protocol;
  /** A number, a container port name, or undefined for "every port of this protocol". */
  port?: number | string;
  endPort?: number;
}

/** An ingress or egress rule. `peers` is `from` for ingress and `to` for egress; empty means "any peer". */
export interface NetworkPolicyRule {
  peers: NetworkPolicyPeer[];
  /** Empty means "any port". */
  ports: NetworkPolicyPort[];
}

export type PolicyType = 'Ingress' | 'Egress';

export interface NetworkPolicy {
  kind: 'NetworkPolicy';
  name: string;
  namespace: string;
  podSelector: LabelSelector;
  /** After defaulting: Ingress always, plus Egress when the spec has egress rules (API default). */
  policyTypes: PolicyType[];
  /** True when policyTypes was absent from the manifest and flowwright applied the API default. */
  policyTypesDefaulted: boolean;
  ingress: NetworkPolicyRule[];
  egress: NetworkPolicyRule[];
  source: PolicySource;
}

// --- Istio AuthorizationPolicy (security.istio.io/v1 and v1beta1) ---

export type AuthorizationAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';

export interface AuthorizationSource {
  principals?: string[];
  notPrincipals?: string[];
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
}

export interface AuthorizationOperation {
  hosts?: string[];
  notHosts?: string[];
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

export interface AuthorizationCondition {
  key: string;
  values?: string[];
  notValues?: string[];
}

export interface AuthorizationRule {
  from: AuthorizationSource[];
  to: AuthorizationOperation[];
  when: AuthorizationCondition[];
}

export interface PolicyTargetRef {
  group?: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface AuthorizationPolicy {
  kind: 'AuthorizationPolicy';
  name: string;
  namespace: string;
  /** `spec.selector.matchLabels`; undefined when the policy has no selector (whole namespace or mesh). */
  selector?: Record<string, string>;
  /** `spec.targetRef` and `spec.targetRefs`, merged. */
  targetRefs: PolicyTargetRef[];
  /** Defaulted to ALLOW. */
  action: AuthorizationAction;
  /** `spec.rules`; empty when absent (an ALLOW policy without rules allows nothing). */
  rules: AuthorizationRule[];
  /** CUSTOM only: the extension provider's name. */
  provider?: string;
  source: PolicySource;
}

export type PolicyObject = NetworkPolicy | AuthorizationPolicy;

/** `namespace/name`, the way policies are named in explanations and reports. */
export function policyRef(p: { namespace: string; name: string }): string {
  return `${p.namespace}/${p.name}`;
}
