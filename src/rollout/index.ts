// Public surface of rollout: staged forms of a proposal, promotion back to enforcing kinds, and the
// would-deny watch of candidate policy sets against observed flows.
export {
  DRY_RUN_ANNOTATION,
  isStagedDocument,
  promoteDocument,
  type StagedProposal,
  type StageOutcome,
  stageDocument,
  stageProposal,
} from './staged.js';
