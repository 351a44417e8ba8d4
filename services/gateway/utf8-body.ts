// Refuses a request body that is not UTF-8, naming where: the event and field that hold the bad bytes, and their offset in the body.
//
// Decoding such a body would not fail: body-parser (iconv-lite), like every WHATWG decoder, turns each
// bad sequence into U+FFFD, so the event would be accepted with different text than the client sent.
// The check runs on the raw (decompressed) body before it is decoded; only a body that fails it is
// scanned again, byte by byte, to say where.
import { isUtf8 } from 'node:buffer';
import { HourglassError } from '../errors/catalogue.ts';
import { invalidEventsError, type RequestProblem } from './parse-request.ts';

/** A RequestProblem with the byte offset of the bad bytes in the body. */
export interface BytesProblem extends RequestProblem {
  readonly position: number;
}

/** Most bad sequences listed in one answer. */
const MAX_LISTED = 100;

/** Throws HG_INVALID_EVENT (bad bytes inside events' strings) or HG_BAD_REQUEST (elsewhere) unless `body` is UTF-8. */
export function assertUtf8Body(body: Buffer): void {
  if (isUtf8(body)) return;
  const bad = invalidSequences(body);
  const located = locateInJson(body, bad);
  const problems: BytesProblem[] = [];
  for (let i = 0; i < bad.length && problems.length < MAX_LISTED; i++) {
    const where = located[i];
    if (where === undefined) return refuseBody(body, bad[i]!);
    const message = `${where.inKey ? 'a key holds' : 'holds'} bytes that are not UTF-8 (${hexOf(body, bad[i]!)} at byte ${bad[i]!.start} of the body)`;
    // One problem per field is enough to fix it.
    if (!problems.some((p) => p.index === where.index && p.path === where.path)) problems.push({ index: where.index, path: where.path, message, position: bad[i]!.start });
  }
  throw invalidEventsError(problems.sort((a, b) => a.index - b.index));
}

function refuseBody(body: Buffer, bad: Sequence): never {
  const before = body.subarray(0, bad.start);
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < before.length; i++) {
    if (before[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  const column = bad.start - lineStart + 1;
  throw new HourglassError('HG_BAD_REQUEST', `request body is not UTF-8: ${hexOf(body, bad)} at byte ${bad.start} (line ${line}, column ${column})`, {
    details: { reason: 'not UTF-8', position: bad.start, line, column },
  });
}

function hexOf(body: Buffer, bad: Sequence): string {
  return [...body.subarray(bad.start, bad.end)].map((b) => `0x${b.toString(16).toUpperCase().padStart(2, '0')}`).join(' ');
}

interface Sequence {
  readonly start: number;
  readonly end: number;
}

/** The ill-formed sequences of `buf` (RFC 3629 Table 3-7: no overlong forms, no surrogates, nothing past U+10FFFF), each the longest prefix of a sequence that could have been valid. */
export function invalidSequences(buf: Buffer): Sequence[] {
  const out: Sequence[] = [];
  let i = 0;
  while (i < buf.length) {
    const b = buf[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let length = 0;
    let low = 0x80;
    let high = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) length = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      length = 3;
      if (b === 0xe0) low = 0xa0;
      if (b === 0xed) high = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4;
      if (b === 0xf0) low = 0x90;
      if (b === 0xf4) high = 0x8f;
    }
    let j = i + 1;
    if (length > 0) {
      const second = buf[j];
      if (second !== undefined && second >= low && second <= high) {
        j++;
        while (j < i + length && buf[j] !== undefined && buf[j]! >= 0x80 && buf[j]! <= 0xbf) j++;
      }
    }
    if (length > 0 && j === i + length) {
      i = j;
      continue;
    }
    out.push({ start: i, end: j });
    i = j;
  }
  return out;
}

interface Location {
  /** Index of the event in the top-level array. */
  readonly index: number;
  /** Path inside the event ("payload.query"), as in other problems. */
  readonly path: string;
  /** Whether the bytes are in an object key (then `path` is the object's). */
  readonly inKey: boolean;
}

type Frame = { kind: 'array'; index: number } | { kind: 'object'; key: string | undefined; expectKey: boolean };

/**
 * For each sequence, where it is in the JSON text: inside which string of which event. Undefined
 * for one outside a string, or outside the top-level array's elements (the body is then malformed).
 * A scan of the bytes: JSON's structure is ASCII, so bytes past 0x7F only ever sit inside strings.
 */
function locateInJson(body: Buffer, sequences: readonly Sequence[]): Array<Location | undefined> {
  const found: Array<Location | undefined> = new Array(sequences.length);
  const stack: Frame[] = [];
  let next = 0;
  let i = 0;
  /** Where the scan is: in a key, the path is its object's (the object's own key is not part of it yet). */
  const pathHere = (inKey: boolean): Location | undefined => {
    const top = stack[0];
    if (top?.kind !== 'array' || stack.length < 2) return undefined;
    const frames = inKey ? stack.slice(1, -1) : stack.slice(1);
    const segments = frames.map((f) => (f.kind === 'array' ? String(f.index) : (f.key ?? '')));
    return { index: top.index, path: segments.join('.'), inKey };
  };
  while (i < body.length && next < sequences.length) {
    const c = body[i]!;
    if (c === 0x22) {
      // A string: a key when its object expects one.
      const frame = stack[stack.length - 1];
      const isKey = frame?.kind === 'object' && frame.expectKey;
      const start = i + 1;
      let j = start;
      while (j < body.length && body[j] !== 0x22) j += body[j] === 0x5c ? 2 : 1;
      while (next < sequences.length && sequences[next]!.start < j) {
        if (sequences[next]!.start >= start) found[next] = pathHere(isKey);
        next++;
      }
      if (isKey && frame?.kind === 'object') {
        frame.key = safeKey(body.subarray(start, j));
        frame.expectKey = false;
      }
      i = j + 1;
      continue;
    }
    while (next < sequences.length && sequences[next]!.start <= i) next++;
    if (c === 0x5b) stack.push({ kind: 'array', index: 0 });
    else if (c === 0x7b) stack.push({ kind: 'object', key: undefined, expectKey: true });
    else if (c === 0x5d || c === 0x7d) stack.pop();
    else if (c === 0x2c) {
      const frame = stack[stack.length - 1];
      if (frame?.kind === 'array') frame.index++;
      else if (frame?.kind === 'object') frame.expectKey = true;
    }
    i++;
  }
  return found;
}

/** An object key as text for a path (escapes decoded when the key is valid JSON). */
function safeKey(raw: Buffer): string {
  const text = raw.toString('utf8');
  try {
    return JSON.parse(`"${text}"`) as string;
  } catch {
    return text;
  }
}
