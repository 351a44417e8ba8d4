// Test helper: one long-lived Python process running fastavro (an Avro implementation independent of ours and of avsc), answering many questions over stdin/stdout.
//
// Property-based tests ask it hundreds of questions per run, so it is started once per suite, not
// once per case. Requests and answers are JSON lines, answered in order; binary travels as base64.
// Block bodies are decompressed with Python's own codec libraries (zlib, zstandard, cramjam), not
// through our codecs, and datums are re-encoded by fastavro so bytes can be compared, not only values.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ensurePythonVenv } from './python.ts';

const ORACLE_SCRIPT = String.raw`
import base64, datetime, hashlib, io, json, sys, zlib
import fastavro
import zstandard
from cramjam import snappy

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
parsed = {}

def schema_of(text):
    if text not in parsed:
        parsed[text] = fastavro.parse_schema(json.loads(text))
    return parsed[text]

def plain(value):
    if isinstance(value, datetime.datetime):
        return (value - EPOCH) // datetime.timedelta(microseconds=1)
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": value.hex()}
    raise TypeError(repr(type(value)))

def decompress(codec, body):
    if codec == "null":
        return body
    if codec == "deflate":
        d = zlib.decompressobj(-15)
        out = d.decompress(body) + d.flush()
        if not d.eof:
            raise ValueError("the deflate stream does not end")
        if d.unused_data:
            raise ValueError("%d bytes after the deflate stream" % len(d.unused_data))
        return out
    if codec == "zstandard":
        return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body), read_across_frames=True).read()
    if codec == "snappy":
        data = bytes(snappy.decompress_raw(body[:-4]))
        if zlib.crc32(data) != int.from_bytes(body[-4:], "big"):
            raise ValueError("snappy CRC32 mismatch")
        return data
    raise ValueError("unknown codec " + codec)

def encode(schema, record):
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema, record)
    return out.getvalue()

def decode_block(req):
    schema = schema_of(req["schema"])
    data = decompress(req["codec"], base64.b64decode(req["body"]))
    fo = io.BytesIO(data)
    records, datums = [], []
    for _ in range(req["count"]):
        record = fastavro.schemaless_reader(fo, schema)
        records.append(record)
        datums.append(base64.b64encode(encode(schema, record)).decode())
    if fo.tell() != len(data):
        raise ValueError("%d bytes left over after %d records" % (len(data) - fo.tell(), req["count"]))
    return {"records": records, "datums": datums}

def decompress_only(req):
    data = decompress(req["codec"], base64.b64decode(req["body"]))
    return {"length": len(data), "sha256": hashlib.sha256(data).hexdigest()}

def read_container(req):
    data = base64.b64decode(req["file"])
    reader = fastavro.reader(io.BytesIO(data))
    records = list(reader)
    meta = {k: v.decode() if isinstance(v, bytes) else v for k, v in reader.metadata.items() if not k.startswith("avro.")}
    blocks = [block.num_records for block in fastavro.block_reader(io.BytesIO(data))]
    return {"codec": reader.codec, "schema": reader.metadata["avro.schema"], "meta": meta, "blocks": blocks, "records": records}

def encode_longs(req):
    return {"hex": [encode("long", v).hex() for v in req["values"]]}

def decode_longs(req):
    out = []
    for h in req["hex"]:
        fo = io.BytesIO(bytes.fromhex(h))
        try:
            out.append({"value": str(fastavro.schemaless_reader(fo, "long")), "next": fo.tell()})
        except Exception as err:
            out.append({"error": "%s: %s" % (type(err).__name__, err)})
    return {"longs": out}

OPS = {"decode_block": decode_block, "decompress": decompress_only, "read_container": read_container, "encode_longs": encode_longs, "decode_longs": decode_longs}

for line in sys.stdin:
    req = json.loads(line)
    try:
        answer = {"ok": OPS[req["op"]](req)}
    except Exception as err:
        answer = {"error": "%s: %s" % (type(err).__name__, err)}
    sys.stdout.write(json.dumps(answer, default=plain) + "\n")
    sys.stdout.flush()
`;

export interface DecodedBlock {
  /** The records as fastavro reads them (timestamps as µs numbers, bytes as {"$bytes": hex}). */
  readonly records: Record<string, unknown>[];
  /** Each record re-encoded by fastavro. */
  readonly datums: Buffer[];
}

export interface ContainerRead {
  readonly codec: string;
  readonly schema: string;
  /** Metadata other than avro.*, as UTF-8. */
  readonly meta: Record<string, string>;
  /** Records per block. */
  readonly blocks: number[];
  readonly records: Record<string, unknown>[];
}

/** What went wrong, as fastavro or the Python codec said it. */
export class OracleRefusal extends Error {}

export class FastavroOracle {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #waiting: Array<{ resolve: (answer: unknown) => void; reject: (err: Error) => void }> = [];
  #stderr = '';
  #exited: Error | undefined;

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child;
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-10_000);
    });
    createInterface({ input: child.stdout }).on('line', (line) => this.#waiting.shift()?.resolve(JSON.parse(line)));
    child.once('exit', (code, signal) => {
      this.#exited = new Error(`the fastavro oracle exited (code ${code}, signal ${signal}): ${this.#stderr}`);
      for (const w of this.#waiting.splice(0)) w.reject(this.#exited);
    });
  }

  static async start(): Promise<FastavroOracle> {
    const python = await ensurePythonVenv();
    return new FastavroOracle(spawn(python, ['-u', '-c', ORACLE_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] }));
  }

  /** Decompresses `body` with `codec` and reads exactly `count` datums of `schemaJson`; rejects with OracleRefusal if fastavro cannot. */
  async decodeBlock(schemaJson: string, codec: string, body: Buffer, count: number): Promise<DecodedBlock> {
    const a = (await this.#ask({ op: 'decode_block', schema: schemaJson, codec, body: body.toString('base64'), count })) as {
      records: Record<string, unknown>[];
      datums: string[];
    };
    return { records: a.records, datums: a.datums.map((d) => Buffer.from(d, 'base64')) };
  }

  /** Decompresses `body` with Python's library for `codec`: the length and SHA-256 (hex) of what comes out. */
  decompress(codec: string, body: Buffer): Promise<{ length: number; sha256: string }> {
    return this.#ask({ op: 'decompress', codec, body: body.toString('base64') }) as Promise<{ length: number; sha256: string }>;
  }

  /** Reads a whole container file with fastavro.reader (and its blocks with block_reader). */
  readContainer(file: Buffer): Promise<ContainerRead> {
    return this.#ask({ op: 'read_container', file: file.toString('base64') }) as Promise<ContainerRead>;
  }

  /** fastavro's encoding of each value as an Avro long. */
  async encodeLongs(values: readonly number[]): Promise<Buffer[]> {
    const a = (await this.#ask({ op: 'encode_longs', values })) as { hex: string[] };
    return a.hex.map((h) => Buffer.from(h, 'hex'));
  }

  /** fastavro's reading of each buffer as an Avro long: the value (as a decimal string, exact) and the bytes it took. */
  async decodeLongs(encoded: readonly Buffer[]): Promise<Array<{ value: bigint; next: number } | { error: string }>> {
    const a = (await this.#ask({ op: 'decode_longs', hex: encoded.map((b) => b.toString('hex')) })) as {
      longs: Array<{ value: string; next: number } | { error: string }>;
    };
    return a.longs.map((l) => ('error' in l ? l : { value: BigInt(l.value), next: l.next }));
  }

  close(): Promise<void> {
    if (this.#exited) return Promise.resolve();
    return new Promise((resolve) => {
      this.#child.once('exit', () => resolve());
      this.#child.stdin.end();
    });
  }

  async #ask(request: object): Promise<unknown> {
    if (this.#exited) throw this.#exited;
    const answer = (await new Promise<unknown>((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#child.stdin.write(`${JSON.stringify(request)}\n`);
    })) as { ok?: unknown; error?: string };
    if (answer.error !== undefined) throw new OracleRefusal(answer.error);
    return answer.ok;
  }
}
