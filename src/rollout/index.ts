// Public surface of rollout: staged (non-enforcing) forms of a proposal, and promotion back to enforcing kinds.
export {
  DRY_RUN_ANNOTATION,
  isStagedDocument,
  promoteDocument,
  type StagedProposal,
  type StageOutcome,
  stageDocument,
  stageProposal,
} from './staged.js';
