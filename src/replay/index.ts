// The replay server: exported Hubble flows served as a read-only Hubble Relay.
export {
  entriesFromLines,
  type FlowFacts,
  loadReplayFiles,
  type ReplayEntry,
  SORT_WINDOW,
  type SourceLine,
  sortWithinWindow,
  type UnknownFields,
} from './entries.js';
export { HONOURED_FILTER_FIELDS } from './filter.js';
export { REPLAY_VERSION, type ReplayServer, type ReplayServerOptions, startReplayServer } from './server.js';
