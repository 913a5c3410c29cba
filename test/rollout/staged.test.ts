// Staged forms: every kind flowwright proposes goes to its own non-enforcing form (or is left out, named),
// the staged files read back through the policy loader as the data plane treats them (not enforced) and as a
// candidate (enforced), and promotion gives back exactly the enforcing documents.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { parsePolicyText } from '../../src/policy/index.js';
import { promoteDocument, stageDocument, stageProposal } from '../../src/rollout/index.js';
import { proposePolicies, renderProposalFile } from '../../src/synthesize/index.js';
import { shopGraph } from '../synthesize/shop.js';

const ALL_KINDS = ['networkpolicy', 'authorizationpolicy', 'cilium', 'calico', 'tenant-baseline'] as const;

describe('stageProposal', () => {
  const enforcing = proposePolicies(shopGraph(), { kinds: [...ALL_KINDS], istioStrictMtls: true });
  const staged = stageProposal(enforcing);

  it('writes each kind in its staged form and no document that would enforce', () => {
    const kinds = new Set<string>();
    for (const f of staged.files) {
      for (const doc of allDocs(renderProposalFile(f))) {
        kinds.add(`${doc.apiVersion} ${doc.kind}`);
        if (doc.kind === 'AuthorizationPolicy') assert.equal(doc.metadata.annotations['istio.io/dry-run'], 'true');
        if (doc.kind === 'StagedNetworkPolicy' || doc.kind === 'StagedGlobalNetworkPolicy')
          assert.equal(doc.spec.stagedAction, 'Set');
      }
    }
    assert.deepEqual([...kinds].sort(), [
      'projectcalico.org/v3 StagedGlobalNetworkPolicy',
      'projectcalico.org/v3 StagedKubernetesNetworkPolicy',
      'projectcalico.org/v3 StagedNetworkPolicy',
      'projectcalico.org/v3 Tier',
      'security.istio.io/v1 AuthorizationPolicy',
    ]);
  });

  it('leaves out the kinds without a staged form and says why, file by file', () => {
    const left = enforcing.files.filter((f) => !staged.files.some((s) => s.path === f.path));
    assert.ok(left.length > 0);
    for (const f of left) {
      assert.match(f.kind, /^(CiliumNetworkPolicy|AdminNetworkPolicy|PeerAuthentication)$/);
      assert.ok(
        staged.notes.some((n) => n.startsWith(`${f.path}: not written:`)),
        `${f.path} is not named in the notes`,
      );
    }
    assert.ok(staged.notes.some((n) => n.includes('Cilium has no policy-level staged form')));
    assert.ok(staged.notes.some((n) => n.startsWith('NetworkPolicy: Kubernetes has no staged form')));
  });

  it('starts every staged document with a comment saying it does not enforce', () => {
    for (const f of staged.files) {
      const text = renderProposalFile(f);
      const docs = text.split(/^---$/m);
      assert.equal(docs.length, f.documents.length);
      for (const d of docs) assert.match(d, /^# staged by flowwright: this document does not enforce/m);
    }
  });

  it('reads back as nothing enforced by default, and as the enforcing set when loaded as a candidate', () => {
    const text = staged.files.map(renderProposalFile).join('---\n');
    const asCluster = parsePolicyText(text, 'staged.yaml');
    assert.deepEqual(asCluster.issues, []);
    assert.equal(asCluster.networkPolicies.length, 0);
    assert.equal(asCluster.authorizationPolicies.length, 0);
    assert.ok((asCluster.skipped['AuthorizationPolicy (dry-run)'] ?? 0) > 0);
    assert.ok((asCluster.skipped.StagedKubernetesNetworkPolicy ?? 0) > 0);

    const asCandidate = parsePolicyText(text, 'staged.yaml', { staged: 'enforce' });
    const original = parsePolicyText(
      enforcing.files
        .filter((f) => f.kind === 'NetworkPolicy' || f.kind === 'AuthorizationPolicy')
        .map(renderProposalFile)
        .join('---\n'),
      'enforcing.yaml',
    );
    assert.deepEqual(asCandidate.issues, []);
    const strip = (ps: { source: unknown }[]) => ps.map(({ source: _s, ...rest }) => rest);
    assert.deepEqual(strip(asCandidate.networkPolicies), strip(original.networkPolicies));
    assert.deepEqual(strip(asCandidate.authorizationPolicies), strip(original.authorizationPolicies));
  });

  it('promotes every staged document back to exactly its enforcing document', () => {
    for (const f of staged.files) {
      const before = enforcing.files.find((e) => e.path === f.path);
      assert.ok(before);
      assert.deepEqual(f.documents.map(promoteDocument), before.documents);
    }
  });
});

describe('stageDocument and promoteDocument', () => {
  it('keeps annotations other than dry-run through the round trip', () => {
    const doc = {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'a', namespace: 'shop', annotations: { owner: 'team-a' } },
      spec: { action: 'ALLOW' },
    };
    const staged = stageDocument(doc);
    assert.ok('doc' in staged);
    assert.deepEqual((staged.doc.metadata as { annotations: unknown }).annotations, {
      owner: 'team-a',
      'istio.io/dry-run': 'true',
    });
    assert.deepEqual(promoteDocument(staged.doc), doc);
  });

  it('leaves documents that enforce nothing and unknown kinds as they are', () => {
    const tier = { apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 't' }, spec: { order: 100 } };
    assert.deepEqual(stageDocument(tier), { doc: tier });
    assert.equal(promoteDocument(tier), tier);
    // A NetworkPolicy-named kind of another group is not Kubernetes' and not Calico's.
    const other = { apiVersion: 'example.com/v1', kind: 'NetworkPolicy', metadata: { name: 'x' } };
    assert.deepEqual(stageDocument(other), { doc: other });
  });
});

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { annotations: Record<string, string> };
  spec: { stagedAction?: string };
}

function allDocs(text: string): Doc[] {
  return text
    .split(/^---$/m)
    .map((d) => parse(d, { version: '1.1' }) as Doc | null)
    .filter((d): d is Doc => d !== null);
}
