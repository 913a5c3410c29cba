// The cluster stage: Kubernetes objects → the inventory model (model/inventory.ts), from an `--inventory`
// file or the API server. The only folder that knows Kubernetes object shapes and talks to the API.
export { addInventoryDocument, INVENTORY_COMMAND, type InventoryRead, readInventoryPath } from './file.js';
export { KEPT_KINDS, toInventoryObject } from './objects.js';
