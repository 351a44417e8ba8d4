// Demo load for the local run: realistic events of the shipped types through the SDK, and some through the gateway.
import { emulatorClient } from '../local-stack/local-stack.ts';
import type { Registry } from '../registry/registry.ts';
import { Publisher } from '../sdk/index.ts';
import { SAMPLE_EVENTS } from './sample-events.ts';

export interface DemoLoad {
  stop(): Promise<void>;
}

export async function startDemoLoad(o: { registry: Registry; host: string; projectId: string; windowS: number; gatewayUrl: string; rate: number }): Promise<DemoLoad> {
  const pubsub = emulatorClient(o.host, o.projectId);
  const publisher = new Publisher({ registry: o.registry, pubsub, windowLengthS: o.windowS, origin: 'demo' });
  let i = 0;
  let stopped = false;
  const types = Object.keys(SAMPLE_EVENTS);
  const tickMs = 100;
  const timer = setInterval(() => {
    const perTick = Math.max(1, Math.round((o.rate * tickMs) / 1000));
    for (let k = 0; k < perTick; k++, i++) {
      const type = types[i % types.length]!;
      publisher.publish(type, SAMPLE_EVENTS[type]!(i)).catch(() => undefined);
    }
    // A tenth of the search events come through the gateway, as an app would send them.
    if (i % 10 === 0) {
      const body = JSON.stringify(Array.from({ length: 10 }, (_, k) => ({ event_id: `demo-${i}-${k}`, payload: SAMPLE_EVENTS.search_performed!(i + k) })));
      fetch(`${o.gatewayUrl}/v1/events/search_performed`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).catch(() => undefined);
    }
  }, tickMs);
  return {
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await publisher.close().catch(() => undefined);
      await pubsub.close();
    },
  };
}
