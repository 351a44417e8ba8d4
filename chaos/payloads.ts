// The chaos suite's event payloads: sample events with one text field drawn from a seeded PRNG (any Unicode plane, 0 B to 20 KB), tagged so the audit can check it arrived byte-exact.
//
// Each event's user_id is "chaos-<seq>-<12 hex>", the hex being the start of the SHA-256 of the drawn
// text's UTF-8 bytes; chaos/audit.py recomputes it from the delivered record. The same seed, publisher
// slot and seq always draw the same text, so a failure replays.
import { createHash } from 'node:crypto';
import { SAMPLE_EVENTS } from '../services/local-run/sample-events.ts';
import { seededRandom } from '../services/storage/seeded-random.ts';

/** The field of each shipped type that carries the drawn text. */
export const DRAWN_FIELD: Readonly<Record<string, string>> = {
  track_played: 'track_id',
  search_performed: 'query',
  ui_interaction: 'view',
};

/** Code points drawn from: ASCII most of the time, then the BMP (no surrogates), then the supplementary planes. */
function drawCodePoint(random: () => number): number {
  const r = random();
  if (r < 0.6) return 0x20 + Math.floor(random() * 0x5f);
  if (r < 0.9) {
    const cp = Math.floor(random() * 0xf800); // below the surrogates, or above them shifted
    return cp < 0xd800 ? cp : cp + 0x800;
  }
  return 0x10000 + Math.floor(random() * (0x10ffff - 0x10000 + 1));
}

/** A well-formed string of a drawn length: usually short, now and then empty or large. */
export function drawText(random: () => number): string {
  const r = random();
  const length = r < 0.05 ? 0 : r < 0.95 ? Math.floor(random() * 200) : 1000 + Math.floor(random() * 5000);
  let out = '';
  for (let i = 0; i < length; i++) out += String.fromCodePoint(drawCodePoint(random));
  return out;
}

export function textTag(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 12);
}

/** The payload of event `seq` of `type` for the publisher in `slot`, under `seed`. */
export function chaosPayload(type: string, seq: number, seed: number, slot: number): Record<string, unknown> {
  const random = seededRandom((seed ^ Math.imul(slot + 1, 0x9e3779b1) ^ Math.imul(seq + 1, 0x85ebca6b)) >>> 0);
  const text = drawText(random);
  const field = DRAWN_FIELD[type];
  const event = { ...SAMPLE_EVENTS[type]!(seq), user_id: `chaos-${seq}-${textTag(text)}` };
  return field === undefined ? event : { ...event, [field]: text };
}
