// Public surface of synthesis: graph → policy proposals (files + summary) and their YAML.
export { allowedFlows, deniedFlows, type RuleEdge, selectEdges } from './edges.js';
export { edgeEvidence, formatCount, generatedFrom, isoTime, peerDisplay } from './evidence.js';
export { proposeNetworkPolicies } from './networkpolicy.js';
export { renderSummary } from './summary.js';
export * from './types.js';
export { renderProposalFile, renderYaml } from './yaml.js';
