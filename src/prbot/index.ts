// The PR bot: proposals as a branch, a commit and a pull request that a human reviews and merges.
export { type Description, describeProposal, GITHUB_BODY_LIMIT, HASH_MARKER, hashInBody } from './describe.js';
export { type GitIdentity, openGit } from './git.js';
export {
  createGitHub,
  type GitHub,
  type GitHubOptions,
  githubError,
  type PullRequest,
  parseRepoSlug,
} from './github.js';
export { type Plan, type PlanMode, type PlannedChange, planChanges, type SkippedPolicy } from './plan.js';
export { MANAGED_BY_LABEL, OPT_OUT_KEY, type RepoPolicies, readRepoPolicies } from './repo.js';
export type { ReviewResult } from './review.js';
export {
  commitMessage,
  defaultBranch,
  type GitHubSettings,
  type PrOptions,
  type PrOutcome,
  policiesDirInRepo,
  runPrBot,
} from './run.js';
