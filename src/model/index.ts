export * from './delta.js';
export * from './errors.js';
export * from './flow.js';
export * from './graph.js';
export * from './ingest.js';
export * from './inventory.js';
export * from './names.js';
export * from './reports.js';
