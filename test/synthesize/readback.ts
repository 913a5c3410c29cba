// Proposals read back as the policy engine sees them: the rendered files loaded as policies, and the
// inventory's pod of a workload.
import assert from 'node:assert/strict';
import {
  emptyLoaded,
  type Inventory,
  type LoadedPolicies,
  mergeLoaded,
  type PodInfo,
  parsePolicyText,
} from '../../src/policy/index.js';
import { type ProposalFile, renderProposalFile } from '../../src/synthesize/index.js';

/** Every file rendered to YAML and parsed back, as `flowwright verify` would read it from disk. */
export function readBack(files: readonly ProposalFile[]): LoadedPolicies {
  const loaded = emptyLoaded();
  for (const f of files) mergeLoaded(loaded, parsePolicyText(renderProposalFile(f), f.path));
  return loaded;
}

/** The first pod of a workload in the inventory (fails the test when there is none). */
export function podOf(inventory: Inventory, workload: string): PodInfo {
  const pod = inventory.pods.find((p) => p.workload === workload);
  assert.ok(pod, `no pod for ${workload}`);
  return pod;
}
