// The bucket layout every part agrees on: where staging, closed windows, late events and dead letters live.
//
//   staging/<type>/<window>/…                  worker output, not yet proven
//   <type>/dt=YYYY-MM-DD/hour=HH/              a closed hour (finer keys minute=, second= for shorter windows)
//   late/<type>/dt=…/hour=…/                   events that arrived after their window closed
//   deadletter/<type>/dt=…/hour=…/             messages that could not be processed, with the reason
//   deadletter/<type>/undeliverable/…          messages Pub/Sub gave up delivering (its Cloud Storage subscription's Avro files)
//   deadletter/<type>/redriven/…               one create-only marker per dead letter `hourglass-events redrive` put back
//   checker/…                                  the checker's own state
// Every prefix ends with "/" so that listing hour=1/ never matches hour=10/.
import { MICROS_PER_SECOND, windowStartUs } from '../wire/window.ts';

export interface WindowRef {
  readonly type: string;
  readonly index: number;
  readonly lengthS: number;
}

/** A sortable, readable id for a window: its start, e.g. 20261122T210000Z. */
export function windowId(index: number, lengthS: number): string {
  const iso = new Date(windowStartUs(index, lengthS) / 1000).toISOString();
  return iso.slice(0, 19).replace(/[-:]/g, '') + 'Z';
}

/** Inverse of windowId. */
export function windowIndexOfId(id: string, lengthS: number): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(id);
  if (!m) throw new Error(`not a window id: ${id}`);
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Math.floor((ms * 1000) / (lengthS * MICROS_PER_SECOND));
}

/** Hive-style partition keys of a window: dt=…/hour=…[/minute=…[/second=…]]/ */
export function partitionPath(index: number, lengthS: number): string {
  const d = new Date(windowStartUs(index, lengthS) / 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  let out = `dt=${d.toISOString().slice(0, 10)}/hour=${pad(d.getUTCHours())}/`;
  if (lengthS < 3600) out += `minute=${pad(d.getUTCMinutes())}/`;
  if (lengthS < 60) out += `second=${pad(d.getUTCSeconds())}/`;
  return out;
}

export const layout = {
  stagingRoot: 'staging/',
  stagingType: (type: string) => `staging/${type}/`,
  staging: (w: WindowRef) => `staging/${w.type}/${windowId(w.index, w.lengthS)}/`,
  closed: (w: WindowRef) => `${w.type}/${partitionPath(w.index, w.lengthS)}`,
  closedType: (type: string) => `${type}/`,
  late: (w: WindowRef) => `late/${w.type}/${partitionPath(w.index, w.lengthS)}`,
  deadletter: (type: string, atMs: number) => `deadletter/${type}/${partitionPath(Math.floor(atMs / 3_600_000), 3600)}`,
  deadletterRoot: 'deadletter/',
  deadletterType: (type: string) => `deadletter/${type}/`,
  /** Must match filename_prefix of the dead-letter archive subscription (infra/modules/hourglass/pubsub.tf). */
  deadletterUndeliverable: (type: string) => `deadletter/${type}/undeliverable/`,
  deadletterRedriven: (type: string) => `deadletter/${type}/redriven/`,
  checker: 'checker/',
  manifestName: '_MANIFEST.json',
  successName: '_SUCCESS',
} as const;
