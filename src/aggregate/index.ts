// Aggregation: batches of flows → per-edge counters in memory → one GraphDelta per flush.
export { type AggregateStats, type Aggregator, createAggregator } from './aggregator.js';
