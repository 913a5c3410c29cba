// The replay server: exported Hubble flows served over Hubble's Observer gRPC API.
export { entriesFromLines, type FlowFacts, loadReplayFiles, type ReplayEntry, type SourceLine } from './entries.js';
export { type ReplayServer, type ReplayServerOptions, startReplayServer } from './server.js';
