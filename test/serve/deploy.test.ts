// The deploy/ directory: every manifest is valid YAML of the right API shape, the pieces refer to each
// other correctly (selectors, ports, volumes, the service account), RBAC is read-only, the pod runs
// non-root on a read-only filesystem, the embedded flowwright.yaml passes the service's own validator,
// and the image build is multi-stage and non-root.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { loadServeConfig } from '../../src/serve/index.js';
import { sharedConfig } from './helpers.js';

const root = new URL('../..', import.meta.url).pathname;
const manifestsDir = join(root, 'deploy', 'kubernetes');

// biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field
type Obj = Record<string, any>;

const API_VERSIONS: Record<string, string> = {
  Namespace: 'v1',
  ServiceAccount: 'v1',
  ConfigMap: 'v1',
  PersistentVolumeClaim: 'v1',
  Service: 'v1',
  Deployment: 'apps/v1',
  ClusterRole: 'rbac.authorization.k8s.io/v1',
  ClusterRoleBinding: 'rbac.authorization.k8s.io/v1',
  NetworkPolicy: 'networking.k8s.io/v1',
  Kustomization: 'kustomize.config.k8s.io/v1beta1',
};

function loadManifests(): Array<{ file: string; doc: Obj }> {
  const out: Array<{ file: string; doc: Obj }> = [];
  for (const file of readdirSync(manifestsDir).sort()) {
    if (!file.endsWith('.yaml')) continue;
    const docs = parseAllDocuments(readFileSync(join(manifestsDir, file), 'utf8'));
    for (const d of Array.isArray(docs) ? docs : [docs]) {
      assert.deepEqual(d.errors, [], `${file}: YAML errors`);
      const doc = d.toJS() as Obj | null;
      if (doc) out.push({ file, doc });
    }
  }
  return out;
}

const manifests = loadManifests();
const byKind = (kind: string) => manifests.filter((m) => m.doc.kind === kind).map((m) => m.doc);
const one = (kind: string) => {
  const list = byKind(kind);
  assert.equal(list.length, 1, `one ${kind}`);
  return list[0];
};
const isString = (v: unknown) => typeof v === 'string' && v.length > 0;
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('deploy manifests', () => {
  it('are Kubernetes objects of known kinds with the right apiVersion and names', () => {
    assert.ok(manifests.length >= 9);
    for (const { file, doc } of manifests) {
      assert.ok(doc.kind in API_VERSIONS, `${file}: unexpected kind ${doc.kind}`);
      assert.equal(doc.apiVersion, API_VERSIONS[doc.kind], `${file}: ${doc.kind} apiVersion`);
      if (doc.kind === 'Kustomization') continue;
      assert.ok(isString(doc.metadata?.name), `${file}: metadata.name`);
      const clusterScoped = ['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(doc.kind);
      if (!clusterScoped) assert.equal(doc.metadata.namespace, 'flowwright', `${file}: namespace`);
    }
    const kustomization = one('Kustomization');
    const files = readdirSync(manifestsDir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    assert.deepEqual([...kustomization.resources].sort(), files.sort(), 'kustomization lists every manifest');
  });

  it('run one non-root, read-only replica with probes, the PVC, the config and the token', () => {
    const d = one('Deployment');
    assert.equal(d.spec.replicas, 1);
    assert.equal(d.spec.strategy.type, 'Recreate');
    const pod = d.spec.template;
    assert.ok(matches(d.spec.selector.matchLabels, pod.metadata.labels), 'selector matches the template');
    assert.equal(pod.spec.serviceAccountName, one('ServiceAccount').metadata.name);
    assert.equal(pod.spec.securityContext.runAsNonRoot, true);
    assert.ok(pod.spec.securityContext.runAsUser > 0);
    assert.equal(pod.spec.containers.length, 1);
    const c = pod.spec.containers[0];
    assert.ok(isString(c.image));
    assert.deepEqual(c.args, ['serve', '--config', '/etc/flowwright/flowwright.yaml']);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    const port = c.ports.find((p: Obj) => p.name === 'http');
    assert.equal(port.containerPort, 8080);
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.equal(c.readinessProbe.httpGet.port, 'http');
    assert.ok(isString(c.resources.limits.memory));
    // Every mount has a volume, and every volume points at an object defined here (or the documented Secret).
    const volumes = new Map(pod.spec.volumes.map((v: Obj) => [v.name, v]));
    for (const m of c.volumeMounts) assert.ok(volumes.has(m.name), `volume ${m.name}`);
    const pvc = one('PersistentVolumeClaim');
    assert.equal((volumes.get('data') as Obj).persistentVolumeClaim.claimName, pvc.metadata.name);
    assert.deepEqual(pvc.spec.accessModes, ['ReadWriteOnce']);
    assert.match(pvc.spec.resources.requests.storage, /^\d+(Gi|Mi)$/);
    const configMaps = new Set(byKind('ConfigMap').map((cm) => cm.metadata.name));
    for (const v of pod.spec.volumes) if (v.configMap) assert.ok(configMaps.has(v.configMap.name), v.configMap.name);
    assert.equal((volumes.get('token') as Obj).secret.secretName, 'flowwright-token');
  });

  it('embed a flowwright.yaml that the service accepts', () => {
    const config = byKind('ConfigMap').find((cm) => cm.metadata.name === 'flowwright-config')!;
    // The token file only exists in the pod; everything else is checked by the real validator.
    const text = (config.data['flowwright.yaml'] as string).replace(/auth:\n\s+tokenFile: .*\n/, '');
    assert.notEqual(text, config.data['flowwright.yaml'], 'the config uses a token file');
    const c = loadServeConfig({
      text,
      file: 'configmap.yaml',
      env: {},
      shared: sharedConfig('/var/lib/flowwright/flowwright.db', { flushEvery: 50_000 }),
    });
    assert.equal(c.listen.port, 8080);
    assert.equal(c.sources.length, 1);
    assert.equal(c.policiesDir, '/etc/flowwright/policies');
    const d = one('Deployment');
    // The grace period leaves room for the service's own shutdown timeout.
    assert.ok(c.shutdownTimeoutMs / 1000 < d.spec.template.spec.terminationGracePeriodSeconds);
    const mounts = d.spec.template.spec.containers[0].volumeMounts.map((m: Obj) => m.mountPath);
    assert.ok(mounts.includes('/etc/flowwright/policies'));
    assert.ok(mounts.includes('/var/lib/flowwright'));
  });

  it('grant read-only RBAC for pods, namespaces, NetworkPolicies and AuthorizationPolicies', () => {
    const role = one('ClusterRole');
    const granted = new Set<string>();
    for (const rule of role.rules) {
      assert.deepEqual([...rule.verbs].sort(), ['get', 'list', 'watch'], 'read verbs only');
      for (const g of rule.apiGroups) for (const r of rule.resources) granted.add(`${g}/${r}`);
    }
    assert.deepEqual([...granted].sort(), [
      '/namespaces',
      '/pods',
      'networking.k8s.io/networkpolicies',
      'security.istio.io/authorizationpolicies',
    ]);
    const binding = one('ClusterRoleBinding');
    assert.deepEqual(binding.roleRef, {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: role.metadata.name,
    });
    const sa = one('ServiceAccount');
    assert.deepEqual(binding.subjects, [
      { kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace },
    ]);
  });

  it('expose the pod through a Service and restrict it with its own NetworkPolicy', () => {
    const pod = one('Deployment').spec.template;
    const svc = one('Service');
    assert.ok(matches(svc.spec.selector, pod.metadata.labels));
    assert.equal(svc.spec.ports[0].targetPort, 'http');
    const np = one('NetworkPolicy');
    assert.ok(matches(np.spec.podSelector.matchLabels, pod.metadata.labels));
    assert.deepEqual(np.spec.policyTypes, ['Ingress', 'Egress']);
    for (const rule of [...np.spec.ingress, ...np.spec.egress]) {
      assert.ok(Array.isArray(rule.ports) && rule.ports.length > 0, 'every rule names its ports');
      for (const p of rule.ports) assert.ok(['TCP', 'UDP'].includes(p.protocol) && Number.isInteger(p.port));
    }
    assert.ok(np.spec.ingress.some((r: Obj) => r.ports.some((p: Obj) => p.port === 8080)));
    const egressPorts = np.spec.egress.flatMap((r: Obj) => r.ports.map((p: Obj) => `${p.port}/${p.protocol}`));
    for (const p of ['53/UDP', '53/TCP', '4245/TCP', '7443/TCP']) assert.ok(egressPorts.includes(p), p);
  });
});

describe('container image build', () => {
  const dockerfile = readFileSync(join(root, 'deploy', 'Dockerfile'), 'utf8');
  const lines = dockerfile.split('\n').filter((l) => !l.startsWith('#'));
  it('is multi-stage, runs as a non-root user, and ships the files read at run time', () => {
    const froms = lines.filter((l) => /^FROM /.test(l));
    assert.ok(froms.length >= 2, 'multi-stage');
    assert.match(froms[0], / AS build$/);
    const user = lines.find((l) => /^USER /.test(l));
    assert.ok(user && !/^USER (root|0)\b/.test(user), 'non-root user');
    assert.ok(lines.indexOf(user!) > lines.indexOf(froms[froms.length - 1]), 'USER in the final stage');
    for (const path of ['migrations', 'proto', 'src/serve/web', '/src/dist', '/src/node_modules'])
      assert.ok(
        lines.some((l) => l.startsWith('COPY') && l.includes(path)),
        `copies ${path}`,
      );
    assert.match(dockerfile, /npm prune --omit=dev/);
  });
});
