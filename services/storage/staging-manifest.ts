// The manifest the worker writes beside each staging file: what the file holds, message by message.
//
// The checker learns what arrived only from manifests. A manifest is written (create-only) after its
// staging file, so a manifest always points at a complete file; a staging file without a manifest
// is debris of a crashed worker (its messages were not acknowledged and will be delivered again).
import type { CodecName } from '../wire/codecs.ts';

export const STAGING_MANIFEST_FORMAT = 'hg-staging-1';
export const STAGING_FILE_SUFFIX = '.avro';
export const STAGING_MANIFEST_SUFFIX = '.manifest.json';

/** One Pub/Sub message, written as one block of the staging file. */
export interface StagedMessage {
  readonly publisher: string;
  readonly firstSeq: number;
  readonly count: number;
  /** Byte offset of the block (its count/size prefix) in the staging file. */
  readonly offset: number;
  /** Bytes of the whole block: prefix, body and sync marker. */
  readonly length: number;
  /** True when some record carries a client event id (the checker must look inside for duplicates). */
  readonly clientIds: boolean;
  readonly minReceiveUs: number;
  readonly maxReceiveUs: number;
  /** Pub/Sub message id, for tracing a redelivery. */
  readonly messageId: string;
  /** W3C trace context of the message's publish span (its `traceparent` attribute), when tracing was on. */
  readonly traceparent?: string;
}

export interface StagingManifest {
  readonly format: typeof STAGING_MANIFEST_FORMAT;
  readonly type: string;
  readonly window: number;
  readonly windowS: number;
  readonly version: number;
  readonly codec: CodecName;
  /** Key of the staging file this manifest describes. */
  readonly file: string;
  readonly bytes: number;
  /** SHA-256 of the staging file, hex. */
  readonly sha256: string;
  readonly events: number;
  readonly minReceiveUs: number;
  readonly maxReceiveUs: number;
  /** Worker wall clock when the file was made durable (UTC µs). */
  readonly writtenAtUs: number;
  readonly worker: string;
  readonly messages: readonly StagedMessage[];
}

/** The manifest key of a staging file key. */
export function manifestKeyOf(stagingFileKey: string): string {
  if (!stagingFileKey.endsWith(STAGING_FILE_SUFFIX)) throw new Error(`not a staging file key: ${stagingFileKey}`);
  return stagingFileKey.slice(0, -STAGING_FILE_SUFFIX.length) + STAGING_MANIFEST_SUFFIX;
}

/** The staging file key of a manifest key (manifestKeyOf's inverse). */
export function stagingFileKeyOf(manifestKey: string): string {
  if (!manifestKey.endsWith(STAGING_MANIFEST_SUFFIX)) throw new Error(`not a staging manifest key: ${manifestKey}`);
  return manifestKey.slice(0, -STAGING_MANIFEST_SUFFIX.length) + STAGING_FILE_SUFFIX;
}

export function encodeStagingManifest(m: StagingManifest): string {
  return JSON.stringify(m);
}

/** Parses a manifest; throws with the key named when it is not one. */
export function parseStagingManifest(key: string, bytes: Buffer): StagingManifest {
  const m = JSON.parse(bytes.toString('utf8')) as StagingManifest;
  if (m.format !== STAGING_MANIFEST_FORMAT || !Array.isArray(m.messages) || typeof m.file !== 'string') {
    throw new Error(`${key}: not a ${STAGING_MANIFEST_FORMAT} staging manifest`);
  }
  return m;
}
