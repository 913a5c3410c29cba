// The store's conditional write (applyDeltaIf), which Kafka group members sharing one store rely on.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { GraphDelta } from '../../src/model/index.js';
import { openStore } from '../../src/store/index.js';
import { api, delta, edge, HOUR, sighting, T0, tempDir, web } from '../store/helpers.js';

/** Three forwarded flows web → api, stored with the partition's next offset `position`. */
function batch(position: string): GraphDelta {
  return delta({
    peers: [sighting(web, T0), sighting(api, T0)],
    edges: [edge(web, api, 8080, [{ hour: T0 / HOUR, flows: 3 }])],
    checkpoints: [{ source: 'kafka:g:flows:0', position }],
  });
}

test('applyDeltaIf writes only while the checkpoint is where the batch started', (t) => {
  const store = openStore(join(tempDir(t), 'g.db'));
  t.after(() => store.close());
  const source = 'kafka:g:flows:0';

  // Nothing stored yet: a batch that expects "none" is written.
  assert.equal(store.applyDeltaIf(batch('10'), [{ source, position: undefined }]), true);
  assert.equal(store.getCheckpoint(source)?.position, '10');
  assert.equal(store.counts().flows, 3);

  // A second member that also started from "none" (it lost the partition meanwhile) writes nothing.
  assert.equal(store.applyDeltaIf(batch('12'), [{ source, position: undefined }]), false);
  assert.equal(store.getCheckpoint(source)?.position, '10');
  assert.equal(store.counts().flows, 3);

  // Neither does one that expects an older position.
  assert.equal(store.applyDeltaIf(batch('14'), [{ source, position: '7' }]), false);
  assert.equal(store.counts().flows, 3);

  // The member that continues from 10 writes.
  assert.equal(store.applyDeltaIf(batch('20'), [{ source, position: '10' }]), true);
  assert.equal(store.getCheckpoint(source)?.position, '20');
  assert.equal(store.counts().flows, 6);
});
