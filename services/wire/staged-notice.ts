// A staged notice: the worker's word that it made one staging object durable (a staged file's manifest, or a note of
// dead-lettered seqs), published on the topic <prefix>staged so checkers learn of it without listing the bucket.
//
// A notice is a hint, never a proof: workers send them best effort, and a checker decides a close only on a listing
// (staging-index.ts). The message body is the object's key (UTF-8); the attribute `type` is its event type.
import { DEAD_LETTER_NOTE_SUFFIX } from '../storage/dead-letter-note.ts';
import { layout } from '../storage/layout.ts';
import { STAGING_MANIFEST_SUFFIX } from '../storage/staging-manifest.ts';

export interface StagedNotice {
  readonly type: string;
  /** Key of a staging manifest or dead-letter note of `type`. */
  readonly key: string;
}

export type ParsedStagedNotice = { ok: true; value: StagedNotice } | { ok: false; reason: string };

/** The Pub/Sub message of a notice. */
export function encodeStagedNotice(n: StagedNotice): { data: Buffer; attributes: Record<string, string> } {
  return { data: Buffer.from(n.key, 'utf8'), attributes: { type: n.type } };
}

/** A notice from its message, refused unless the key is a manifest or note under its type's staging folder. */
export function parseStagedNotice(data: Buffer, attributes: Readonly<Record<string, string>> | undefined): ParsedStagedNotice {
  const type = attributes?.type;
  if (!type) return { ok: false, reason: 'staged notice without a "type" attribute' };
  const key = data.toString('utf8');
  const prefix = layout.stagingType(type);
  if (!key.startsWith(prefix) || key.split('/').some((part) => part === '..' || part === '.')) return { ok: false, reason: `staged notice key ${JSON.stringify(key.slice(0, 200))} is not under ${prefix}` };
  if (!key.endsWith(STAGING_MANIFEST_SUFFIX) && !key.endsWith(DEAD_LETTER_NOTE_SUFFIX)) return { ok: false, reason: `staged notice key ${JSON.stringify(key.slice(0, 200))} is neither a staging manifest nor a dead-letter note` };
  return { ok: true, value: { type, key } };
}
