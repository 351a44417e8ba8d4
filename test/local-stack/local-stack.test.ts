// The local stack starts both emulators, provisions the registry's topics, and leaves no process behind.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startLocalStack } from '../../services/local-stack/local-stack.ts';
import { groupAlive } from '../../services/local-stack/process-group.ts';
import { Registry } from '../../services/registry/registry.ts';
import { openStorage } from '../../services/storage/open-storage.ts';

describe('local stack', () => {
  it('starts the Pub/Sub emulator and fake-gcs-server, provisions topics, and stops both', async () => {
    const registry = await Registry.load();
    const stack = await startLocalStack({ registry, gcsBucket: 'hg-stack-test' });
    try {
      const [topics] = await stack.client.getTopics();
      const topicIds = topics.map((t) => t.name.split('/').pop()).sort();
      assert.deepEqual(topicIds, ['hourglass-closed-windows', 'hourglass-control', 'hourglass-search_performed', 'hourglass-staged', 'hourglass-track_played', 'hourglass-ui_interaction']);
      const [subs] = await stack.client.getSubscriptions();
      assert.deepEqual(subs.map((s) => s.name.split('/').pop()).sort(), [
        // The table committer's, since track_played opts in to a table.
        'hourglass-closed-windows-tables',
        'hourglass-control-checker',
        'hourglass-search_performed-worker',
        'hourglass-staged-checker-0',
        'hourglass-staged-checker-1',
        'hourglass-staged-checker-2',
        'hourglass-staged-checker-3',
        'hourglass-track_played-worker',
        'hourglass-ui_interaction-worker',
      ]);
      const storage = await openStorage('gs://hg-stack-test', { gcsEndpoint: stack.gcs!.endpoint });
      await storage.createOnly('hello', 'world');
      assert.equal((await storage.get('hello')).toString(), 'world');
    } finally {
      await stack.stop();
    }
    assert.equal(groupAlive(stack.pubsub.pid), false, 'Pub/Sub emulator (gcloud or java) still running');
    assert.equal(groupAlive(stack.gcs!.pid), false, 'fake-gcs-server still running');
    await assert.rejects(fetch(`http://${stack.pubsub.host}/`), 'emulator port still answers');
    await assert.rejects(fetch(`${stack.gcs!.endpoint}/storage/v1/b`), 'fake-gcs-server port still answers');
  });
});
