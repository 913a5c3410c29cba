// Which workload owns a pod. Policy is written per workload, not per pod, so every pod endpoint is
// folded into the controller that stamps its pods out. The source's own answer (Hubble `workloads`)
// wins; otherwise the answer is read from the pod's name and the labels controllers put on pods.
//
// Names that controllers generate (facts from Kubernetes):
//   Deployment   pod `<deployment>-<pod-template-hash>-<5 random>`, label pod-template-hash
//                (its ReplicaSet is `<deployment>-<pod-template-hash>`)
//   StatefulSet  pod `<statefulset>-<ordinal>`, labels controller-revision-hash and
//                statefulset.kubernetes.io/pod-name (newer: apps.kubernetes.io/pod-index)
//   DaemonSet    pod `<daemonset>-<5 random>`, labels controller-revision-hash and pod-template-generation
//   Job          pod `<job>-<5 random>` (indexed: `<job>-<index>-<5 random>`), label job-name
//                (newer: batch.kubernetes.io/job-name)
//   CronJob      job `<cronjob>-<scheduled time in minutes since the epoch>`
// Random parts use apimachinery's safe alphabet (no vowels, no 0, 1 or 3), so they rarely look like words.
import type { Endpoint, WorkloadName } from '../model/index.js';

const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const isSafe = new Uint8Array(128);
for (let i = 0; i < SAFE_ALPHABET.length; i++) isSafe[SAFE_ALPHABET.charCodeAt(i)] = 1;

/** A pod-template-hash is a 32-bit number rendered in the safe alphabet: up to 10 characters. */
const HASH_MIN = 6;
const HASH_MAX = 10;
/** generateName appends 5 random characters. */
const RANDOM_SUFFIX = 5;
/**
 * A CronJob's job suffix is the scheduled time in minutes since 1970: 8 digits from 1989 to 2160.
 * Requiring 8 or more keeps `worker-2` (a Job that merely ends in a number) a Job.
 */
const CRON_SUFFIX_MIN = 8;

/** True when s[start, end) is non-empty and made only of safe-alphabet characters. */
function isSafeRun(s: string, start: number, end: number): boolean {
  if (end <= start) return false;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || isSafe[c] === 0) return false;
  }
  return true;
}

/** True when s[start, end) is non-empty and made only of decimal digits. */
function isDigits(s: string, start: number, end: number): boolean {
  if (end <= start) return false;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** True when s[start, end) looks like a pod-template-hash. */
function isHashLike(s: string, start: number, end: number): boolean {
  const n = end - start;
  return n >= HASH_MIN && n <= HASH_MAX && isSafeRun(s, start, end);
}

/** `<name>-<5 random>` → `<name>`, else undefined. */
function withoutRandomSuffix(pod: string): string | undefined {
  const dash = pod.length - RANDOM_SUFFIX - 1;
  if (dash <= 0 || pod.charCodeAt(dash) !== 45 /* - */ || !isSafeRun(pod, dash + 1, pod.length)) return undefined;
  return pod.slice(0, dash);
}

/** `<name>-<digits>` → `<name>`, else undefined. */
function withoutOrdinal(pod: string): string | undefined {
  const dash = pod.lastIndexOf('-');
  if (dash <= 0 || !isDigits(pod, dash + 1, pod.length)) return undefined;
  return pod.slice(0, dash);
}

/** `<deployment>-<hash>` (a ReplicaSet name) → `<deployment>` when the hash looks generated, else undefined. */
function withoutTemplateHash(name: string, hash: string | undefined): string | undefined {
  const dash = name.lastIndexOf('-');
  if (dash <= 0) return undefined;
  if (hash !== undefined)
    return name.length - dash - 1 === hash.length && name.endsWith(hash) ? name.slice(0, dash) : undefined;
  return isHashLike(name, dash + 1, name.length) ? name.slice(0, dash) : undefined;
}

/** `<name>-<hash>-<5 random>` → `<name>`: a Deployment's pod recognised by name alone, else undefined. */
function deploymentOfPodName(pod: string): string | undefined {
  const rs = withoutRandomSuffix(pod);
  return rs === undefined ? undefined : withoutTemplateHash(rs, undefined);
}

/** A Job's owner: `<cronjob>-<scheduled minutes>` belongs to that CronJob, any other name is its own Job. */
function jobOwner(job: string): WorkloadName {
  const dash = job.lastIndexOf('-');
  if (dash > 0 && job.length - dash - 1 >= CRON_SUFFIX_MIN && isDigits(job, dash + 1, job.length))
    return { kind: 'CronJob', name: job.slice(0, dash) };
  return { kind: 'Job', name: job };
}

/**
 * The reported workload, taken one level up where the reporter stopped at an intermediate owner:
 *   ReplicaSet `<deployment>-<hash>`, when the pod carries pod-template-hash=<hash> → that Deployment
 *   Job `<cronjob>-<8+ digits>` → that CronJob
 * Anything else is kept as reported.
 */
function fromReported(reported: WorkloadName, labels: Record<string, string>): WorkloadName {
  if (reported.kind === 'ReplicaSet') {
    const hash = labels['pod-template-hash'];
    const deployment = hash ? withoutTemplateHash(reported.name, hash) : undefined;
    return deployment ? { kind: 'Deployment', name: deployment } : reported;
  }
  if (reported.kind === 'Job') return jobOwner(reported.name);
  return reported;
}

/**
 * Calico aggregates pods by generateName and reports `<prefix>-*` (e.g. `frontend-6d9f8c7b5-*`).
 *   `<deployment>-<hash>-*` (hash as in pod-template-hash, or equal to that label) → Deployment
 *   `<name>-*` with labels that name a controller → that controller, by the same label rules as pods
 *   `<name>-*` otherwise → ReplicaSet `<name>`: pods stamped from a generateName by a controller the
 *      labels do not reveal. The kind only names the peer; its selector comes from labels either way.
 */
function fromAggregate(prefix: string, labels: Record<string, string>): WorkloadName {
  const deployment = withoutTemplateHash(prefix, labels['pod-template-hash']) ?? withoutTemplateHash(prefix, undefined);
  if (deployment) return { kind: 'Deployment', name: deployment };
  if (labels['pod-template-hash'] !== undefined) return { kind: 'Deployment', name: prefix };
  const job = labels['batch.kubernetes.io/job-name'] ?? labels['job-name'];
  if (job !== undefined) return jobOwner(prefix);
  if (labels['controller-revision-hash'] !== undefined) {
    return labels['pod-template-generation'] !== undefined
      ? { kind: 'DaemonSet', name: prefix }
      : { kind: 'StatefulSet', name: prefix };
  }
  return { kind: 'ReplicaSet', name: prefix };
}

/**
 * The workload that owns an endpoint's pod.
 *   1. The source's report (Hubble `workloads`) wins, lifted from ReplicaSet to Deployment and from
 *      Job to CronJob where the names show it (see fromReported).
 *   2. A Calico aggregate `<prefix>-*`: see fromAggregate.
 *   3. pod-template-hash=<h> and a pod named `<name>-<h>-…` → Deployment `<name>`.
 *   4. controller-revision-hash:
 *        with statefulset.kubernetes.io/pod-name or apps.kubernetes.io/pod-index → StatefulSet
 *          (`<name>-<ordinal>` → `<name>`);
 *        with pod-template-generation → DaemonSet (`<name>-<5 random>` → `<name>`);
 *        neither: `<name>-<ordinal>` → StatefulSet, `<name>-<5 random>` → DaemonSet.
 *   5. batch.kubernetes.io/job-name or job-name=<job> → Job `<job>`, or CronJob `<c>` when <job> is
 *      `<c>-<8+ digits>`.
 *   6. No controller label, pod named `<name>-<hash>-<5 random>` → Deployment `<name>` (pods seen
 *      without labels; two safe-alphabet runs of the right lengths are very unlikely by chance).
 *   7. Otherwise a bare pod: kind Pod, named as itself.
 * Undefined when the endpoint has neither a pod nor a reported workload.
 */
export function workloadOf(ep: Endpoint): WorkloadName | undefined {
  const labels = ep.labels;
  if (ep.workload) return fromReported(ep.workload, labels);
  const pod = ep.pod;
  if (!pod) return undefined;

  if (pod.endsWith('-*')) return fromAggregate(pod.slice(0, -2), labels);

  const hash = labels['pod-template-hash'];
  if (hash) {
    const at = pod.lastIndexOf(`-${hash}-`);
    if (at > 0) return { kind: 'Deployment', name: pod.slice(0, at) };
  }

  if (labels['controller-revision-hash'] !== undefined) {
    const isStatefulSet =
      labels['statefulset.kubernetes.io/pod-name'] !== undefined ||
      labels['apps.kubernetes.io/pod-index'] !== undefined;
    const isDaemonSet = !isStatefulSet && labels['pod-template-generation'] !== undefined;
    if (!isDaemonSet) {
      const statefulSet = withoutOrdinal(pod);
      if (statefulSet) return { kind: 'StatefulSet', name: statefulSet };
    }
    if (!isStatefulSet) {
      const daemonSet = withoutRandomSuffix(pod);
      if (daemonSet) return { kind: 'DaemonSet', name: daemonSet };
    }
  }

  const job = labels['batch.kubernetes.io/job-name'] ?? labels['job-name'];
  if (job) return jobOwner(job);

  const deployment = deploymentOfPodName(pod);
  if (deployment) return { kind: 'Deployment', name: deployment };

  return { kind: 'Pod', name: pod };
}
