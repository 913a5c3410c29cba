// Public surface of review: verify by replay, semantic diff against the proposal, and their renderings.

export {
  type ConsistencyFinding,
  type ConsistencyReport,
  checkConsistency,
  renderConsistency,
} from './consistency.js';
export {
  type ConnectionChange,
  DIFF_MODES,
  DIFF_SCHEMA_VERSION,
  type DiffInput,
  type DiffMode,
  type DiffOptions,
  type DiffReport,
  describeRule,
  diffPolicies,
  type FileChange,
  type Observed,
  type RuleUsage,
} from './diff.js';
export { endpointResolver, l4Protocol, peerDisplayName } from './endpoints.js';
export * from './graph.js';
export { unifiedDiff } from './linediff.js';
export {
  DIFF_FORMATS,
  type DiffFormat,
  renderDiff,
  renderVerify,
  VERIFY_FORMATS,
  type VerifyFormat,
} from './render.js';
export { diffToJson, renderDiffJson, renderVerifyJson, verifyToJson } from './render-json.js';
export { renderDiffMarkdown, renderVerifyMarkdown } from './render-markdown.js';
export { renderDiffTable, renderVerifyTable } from './render-table.js';
export { renderDiffYaml } from './render-yaml-diff.js';
export {
  type CompiledSet,
  compilePolicySet,
  decideEdge,
  decisionSummary,
  type EdgeRef,
  ICMP_DENIED,
  type SkippedEdge,
  VERIFY_SCHEMA_VERSION,
  type VerifiedEdge,
  type VerifyOptions,
  type VerifyReport,
  type VerifyTotals,
  verifyPolicies,
} from './verify.js';
