// Public surface of the policy engine: manifests → compiled policies → decisions with reasons.
export {
  type AuthorizationDecision,
  type AuthorizationPolicyCheck,
  type AuthorizationRuleCheck,
  type AuthorizationVerdict,
  type CompiledAuthorizationPolicies,
  compileAuthorizationPolicies,
  evaluateRequest,
  type Request,
  type RequestDecision,
  stringMatches,
  type Tri,
} from './authorizationpolicy.js';
export { type Cidr, cidrContains, type IpAddress, parseCidr, parseIp } from './cidr.js';
export { describeSource, explainConnection, explainRequest } from './explain.js';
export {
  type Inventory,
  inventoryFromGraph,
  mergeClusterInventory,
  NAMESPACE_NAME_LABEL,
  namespaceLabels,
  type PodInfo,
  type PodPort,
} from './inventory.js';
export {
  emptyLoaded,
  type LoadedPolicies,
  type LoadOptions,
  loadPolicyFiles,
  mergeLoaded,
  parsePolicyText,
} from './load.js';
export {
  type CompiledNetworkPolicies,
  type Connection,
  type ConnectionDecision,
  compileNetworkPolicies,
  describeEndpoint,
  type EvalEndpoint,
  evaluateConnection,
  type PolicyCheck,
  policiesSelecting,
  type RuleCheck,
  type SideDecision,
  type SideReason,
} from './networkpolicy.js';
export { describeSelector } from './selector.js';
export * from './types.js';
