// The attributes of a batch message: one publisher, one type, one schema version, one window, a contiguous seq range.
//
// The message data is the body of an Avro object-container block of the type's *delivered* schema
// for that version, compressed with `codec`: the worker writes it to a container file unchanged.
import { isCodecName, type CodecName } from './codecs.ts';
import { isValidTypeName } from '../registry/type-name.ts';

export const WIRE_FORMAT = 'hg1';

export interface BatchAttributes {
  readonly type: string;
  readonly version: number;
  readonly publisher: string;
  readonly firstSeq: number;
  readonly count: number;
  readonly window: number;
  readonly windowS: number;
  readonly codec: CodecName;
  /** Receive time of the first and last event (UTC µs). */
  readonly minReceiveUs: number;
  readonly maxReceiveUs: number;
  /** True when some event in the batch carries a client-supplied event id. */
  readonly clientIds: boolean;
}

/** Encodes attributes as Pub/Sub message attributes (all strings). */
export function encodeBatchAttributes(a: BatchAttributes): Record<string, string> {
  return {
    format: WIRE_FORMAT,
    type: a.type,
    version: String(a.version),
    publisher: a.publisher,
    first_seq: String(a.firstSeq),
    count: String(a.count),
    window: String(a.window),
    window_s: String(a.windowS),
    codec: a.codec,
    min_rt: String(a.minReceiveUs),
    max_rt: String(a.maxReceiveUs),
    client_ids: a.clientIds ? '1' : '0',
  };
}

export type ParsedAttributes = { ok: true; value: BatchAttributes } | { ok: false; reason: string };

/** Parses and checks message attributes; every fault is a reason fit for the dead-letter record. */
export function parseBatchAttributes(attrs: Readonly<Record<string, string>>): ParsedAttributes {
  const problems: string[] = [];
  const int = (key: string, min: number): number => {
    const raw = attrs[key];
    if (raw === undefined) {
      problems.push(`attribute "${key}" is missing`);
      return 0;
    }
    if (!/^-?\d{1,16}$/.test(raw) || !Number.isSafeInteger(Number(raw)) || Number(raw) < min) {
      problems.push(`attribute "${key}" must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
      return 0;
    }
    return Number(raw);
  };
  if (attrs.format !== WIRE_FORMAT) problems.push(`attribute "format" must be "${WIRE_FORMAT}", got ${JSON.stringify(attrs.format)}`);
  const type = attrs.type ?? '';
  if (!isValidTypeName(type)) problems.push(`attribute "type" is not a valid type name: ${JSON.stringify(attrs.type)}`);
  const publisher = attrs.publisher ?? '';
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(publisher)) problems.push(`attribute "publisher" is missing or malformed: ${JSON.stringify(attrs.publisher)}`);
  const codec = attrs.codec ?? '';
  if (!isCodecName(codec)) problems.push(`attribute "codec" is not a known codec: ${JSON.stringify(attrs.codec)}`);
  const clientIds = attrs.client_ids;
  if (clientIds !== '0' && clientIds !== '1') problems.push(`attribute "client_ids" must be "0" or "1", got ${JSON.stringify(clientIds)}`);
  const value: BatchAttributes = {
    type,
    version: int('version', 1),
    publisher,
    firstSeq: int('first_seq', 0),
    count: int('count', 1),
    window: int('window', 0),
    windowS: int('window_s', 1),
    codec: codec as CodecName,
    minReceiveUs: int('min_rt', 0),
    maxReceiveUs: int('max_rt', 0),
    clientIds: clientIds === '1',
  };
  if (problems.length === 0) {
    const lengthUs = value.windowS * 1_000_000;
    if (value.maxReceiveUs < value.minReceiveUs) problems.push('attribute "max_rt" is before "min_rt"');
    else if (Math.floor(value.minReceiveUs / lengthUs) !== value.window || Math.floor(value.maxReceiveUs / lengthUs) !== value.window) {
      problems.push(`receive times ${value.minReceiveUs}..${value.maxReceiveUs} are not inside window ${value.window} of ${value.windowS}s`);
    }
  }
  return problems.length > 0 ? { ok: false, reason: problems.join('; ') } : { ok: true, value };
}
