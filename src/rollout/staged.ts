// Staged forms: a proposal rewritten so that applying it changes nothing the data plane enforces, and
// the way back (promotion). Each kind uses its own non-enforcing form where it has one:
//   - Kubernetes NetworkPolicy has none of its own; Calico's StagedKubernetesNetworkPolicy is one on Calico
//     clusters (the same spec). Elsewhere the CRD is missing, so the API server refuses it and nothing is
//     enforced; replaying the learned traffic through the enforcing proposal (`flowwright verify`) is then
//     the stage.
//   - Calico NetworkPolicy and GlobalNetworkPolicy: StagedNetworkPolicy and StagedGlobalNetworkPolicy
//     (same spec, plus `stagedAction: Set`). A Tier orders policy and enforces nothing: kept as it is.
//   - Istio AuthorizationPolicy: the same object with the `istio.io/dry-run: "true"` annotation.
//   - Cilium has no policy-level non-enforcing form: its policy audit mode is an agent setting
//     (`policy-audit-mode`) or a per-endpoint option (PolicyAuditMode), not a field of a policy. The same
//     holds for AdminNetworkPolicy and Istio's PeerAuthentication. Those files are left out of a staged
//     proposal (applying them would enforce) and named in its notes.
// Pure: documents in, documents out.
import type { PoliciesProposal, ProposalFile } from '../synthesize/index.js';

export const DRY_RUN_ANNOTATION = 'istio.io/dry-run';
const CALICO_API = 'projectcalico.org/v3';

/** Enforcing kind → staged kind, keyed by `apiVersion group/kind`. */
const STAGED_KINDS: Record<string, { apiVersion: string; kind: string; stagedAction: boolean }> = {
  'networking.k8s.io/NetworkPolicy': {
    apiVersion: CALICO_API,
    kind: 'StagedKubernetesNetworkPolicy',
    stagedAction: false,
  },
  'projectcalico.org/NetworkPolicy': { apiVersion: CALICO_API, kind: 'StagedNetworkPolicy', stagedAction: true },
  'projectcalico.org/GlobalNetworkPolicy': {
    apiVersion: CALICO_API,
    kind: 'StagedGlobalNetworkPolicy',
    stagedAction: true,
  },
};

/** Staged kind → the enforcing apiVersion and kind it promotes to. */
const ENFORCING_KINDS: Record<string, { apiVersion: string; kind: string }> = {
  StagedKubernetesNetworkPolicy: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
  StagedNetworkPolicy: { apiVersion: CALICO_API, kind: 'NetworkPolicy' },
  StagedGlobalNetworkPolicy: { apiVersion: CALICO_API, kind: 'GlobalNetworkPolicy' },
};

/** Kinds with no non-enforcing form at policy level, and what to say about each. */
const NOT_STAGEABLE: Record<string, string> = {
  CiliumNetworkPolicy:
    'Cilium has no policy-level staged form (policy audit mode is an agent setting, policy-audit-mode, or a ' +
    'per-endpoint option, PolicyAuditMode)',
  CiliumClusterwideNetworkPolicy: 'Cilium has no policy-level staged form',
  AdminNetworkPolicy: 'AdminNetworkPolicy has no staged form',
  PeerAuthentication: 'Istio PeerAuthentication has no dry-run form',
};

function group(apiVersion: unknown): string {
  return typeof apiVersion === 'string' ? apiVersion.split('/')[0] : '';
}

type Doc = Record<string, unknown>;

export type StageOutcome = { doc: Doc } | { skip: string };

/** The staged form of one document, or why it has none. Documents that enforce nothing pass unchanged. */
export function stageDocument(doc: Doc): StageOutcome {
  const kind = String(doc.kind ?? '');
  const staged = STAGED_KINDS[`${group(doc.apiVersion)}/${kind}`];
  if (staged) {
    const spec = { ...(doc.spec as Doc | undefined) };
    if (staged.stagedAction) spec.stagedAction = 'Set';
    return { doc: { ...doc, apiVersion: staged.apiVersion, kind: staged.kind, spec } };
  }
  if (kind === 'AuthorizationPolicy' && group(doc.apiVersion) === 'security.istio.io') {
    const metadata = (doc.metadata ?? {}) as Doc;
    const annotations = { ...((metadata.annotations as Record<string, string> | undefined) ?? {}) };
    annotations[DRY_RUN_ANNOTATION] = 'true';
    return { doc: { ...doc, metadata: { ...metadata, annotations } } };
  }
  if (kind in NOT_STAGEABLE) return { skip: NOT_STAGEABLE[kind] };
  return { doc };
}

/** The enforcing form of a staged document (the inverse of stageDocument); other documents unchanged. */
export function promoteDocument(doc: Doc): Doc {
  const kind = String(doc.kind ?? '');
  const enforcing = group(doc.apiVersion) === 'projectcalico.org' ? ENFORCING_KINDS[kind] : undefined;
  if (enforcing) {
    const { stagedAction: _dropped, ...spec } = (doc.spec ?? {}) as Doc;
    return { ...doc, apiVersion: enforcing.apiVersion, kind: enforcing.kind, spec };
  }
  const metadata = doc.metadata as Doc | undefined;
  const annotations = metadata?.annotations as Record<string, string> | undefined;
  if (kind === 'AuthorizationPolicy' && annotations && DRY_RUN_ANNOTATION in annotations) {
    const { [DRY_RUN_ANNOTATION]: _dryRun, ...rest } = annotations;
    const meta: Doc = { ...metadata };
    if (Object.keys(rest).length > 0) meta.annotations = rest;
    else delete meta.annotations;
    return { ...doc, metadata: meta };
  }
  return doc;
}

/** True when the document is in a staged (non-enforcing) form flowwright writes. */
export function isStagedDocument(doc: Doc): boolean {
  return promoteDocument(doc) !== doc;
}

export interface StagedProposal {
  files: ProposalFile[];
  /** One line per file left out, and per kind that is staged only on some clusters. */
  notes: string[];
}

const STAGED_HEADER =
  'staged by flowwright: this document does not enforce. Once what it reports it would deny has been\n' +
  'checked, apply the enforcing proposal (flowwright propose without --staged).';

/**
 * A proposal in staged form. Files whose kind has no staged form are left out and named in `notes`, so
 * that `kubectl apply -f` on the output never enforces anything.
 */
export function stageProposal(proposal: Pick<PoliciesProposal, 'files'>): StagedProposal {
  const files: ProposalFile[] = [];
  const notes: string[] = [];
  let kubernetes = false;
  for (const f of proposal.files) {
    const outcomes = f.documents.map(stageDocument);
    const skip = outcomes.find((o): o is { skip: string } => 'skip' in o);
    if (skip) {
      notes.push(`${f.path}: not written: ${skip.skip}; check it with flowwright verify instead`);
      continue;
    }
    const documents = outcomes.map((o) => (o as { doc: Doc }).doc);
    const kinds = [...new Set(documents.map((d) => String(d.kind)))];
    if (kinds.includes('StagedKubernetesNetworkPolicy')) kubernetes = true;
    const comments = [...(f.comments ?? [])];
    documents.forEach((_, i) => {
      // Before the file's own header, so a reader sees first that nothing here enforces.
      comments.unshift({ document: i, path: [], text: STAGED_HEADER });
    });
    files.push({ ...f, kind: kinds.length === 1 ? kinds[0] : f.kind, documents, comments });
  }
  if (kubernetes)
    notes.push(
      'NetworkPolicy: Kubernetes has no staged form; written as Calico StagedKubernetesNetworkPolicy, which only ' +
        'a Calico cluster accepts. On other clusters do not apply these files: check the enforcing proposal ' +
        'with flowwright verify instead.',
    );
  return { files, notes };
}
