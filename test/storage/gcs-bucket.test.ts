// The storage contract on the GCS backend, against a real fake-gcs-server started for this suite.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startFakeGcsServer, type FakeGcsServer } from '../../services/local-stack/fake-gcs-server.ts';
import { groupAlive } from '../../services/local-stack/process-group.ts';
import { openStorage } from '../../services/storage/open-storage.ts';
import { storageContract } from './storage-contract.ts';

describe('GCS storage on fake-gcs-server', () => {
  let gcs: FakeGcsServer;
  before(async () => {
    gcs = await startFakeGcsServer();
  });
  after(async () => {
    await gcs.stop();
    assert.equal(groupAlive(gcs.pid), false, 'fake-gcs-server still running after stop');
  });

  // Each test gets its own bucket (and a prefix, so prefixed keys are exercised too).
  storageContract(async () => {
    const bucket = `hg-test-${randomBytes(4).toString('hex')}`;
    await gcs.createBucket(bucket);
    return openStorage(`gs://${bucket}/root/prefix`, { gcsEndpoint: gcs.endpoint, projectId: 'hourglass-local' });
  });

  it('reports its location with the prefix', async () => {
    await gcs.createBucket('hg-location');
    const s = await openStorage('gs://hg-location/a/b', { gcsEndpoint: gcs.endpoint });
    assert.equal(s.location, 'gs://hg-location/a/b');
  });
});
