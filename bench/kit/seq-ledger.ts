// Counts how many times each seq of each (type, publisher) stream was seen, exactly and in little memory, and compares that with what was acknowledged.
//
// Records arrive in long runs of consecutive seqs (a message is a seq range, and compaction keeps its
// order), so a stream is kept as a list of runs [from, to) rather than a count per seq: hundreds of
// millions of events take a few hundred thousand runs. The comparison sweeps the sorted runs, so it
// is exact per seq: a seq seen twice is a duplicate even when the totals agree.

/** Seqs seen of one stream, as runs of consecutive seqs. */
export class SeqRuns {
  readonly runs: Array<[number, number]> = [];
  #from = 0;
  #to = 0;

  /** One record with this seq. */
  add(seq: number): void {
    if (seq === this.#to && this.#to > this.#from) {
      this.#to++;
      return;
    }
    this.#flush();
    this.#from = seq;
    this.#to = seq + 1;
  }

  /** `count` records with seqs from, from + 1, … */
  addRange(from: number, count: number): void {
    if (count <= 0) return;
    if (from === this.#to && this.#to > this.#from) {
      this.#to += count;
      return;
    }
    this.#flush();
    this.#from = from;
    this.#to = from + count;
  }

  /** The runs so far, the open one included, sorted by start. */
  sorted(): Array<[number, number]> {
    this.#flush();
    return [...this.runs].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  }

  #flush(): void {
    if (this.#to > this.#from) this.runs.push([this.#from, this.#to]);
    this.#from = this.#to = 0;
  }
}

export interface StreamTally {
  /** Acknowledged seqs (in [0, acknowledged)) not seen. */
  readonly missing: number;
  /** Extra copies of acknowledged seqs (a seq seen three times counts 2). */
  readonly duplicates: number;
  /** Records whose seq was never acknowledged (negative, at or past the acknowledged count, or of an unknown stream). */
  readonly unexpected: number;
  /** The first few missing and duplicated ranges, for a failure's message. */
  readonly examples: string[];
}

const EXAMPLES = 5;

/** Compares the seqs seen with the acknowledged ones, [0, acknowledged). */
export function tallyStream(seen: SeqRuns | undefined, acknowledged: number): StreamTally {
  let missing = 0;
  let duplicates = 0;
  let unexpected = 0;
  const examples: string[] = [];
  const note = (s: string) => examples.length < EXAMPLES && examples.push(s);
  // Every acknowledged seq below `covered` has been seen at least once.
  let covered = 0;
  for (const [from, to] of seen?.sorted() ?? []) {
    const lo = Math.max(from, 0);
    const hi = Math.min(to, acknowledged);
    unexpected += to - from - Math.max(0, hi - lo);
    if (hi <= lo) continue;
    if (lo > covered) {
      missing += lo - covered;
      note(`missing [${covered}, ${lo})`);
    }
    const again = Math.max(0, Math.min(hi, covered) - lo);
    if (again > 0) {
      duplicates += again;
      note(`seen again [${lo}, ${lo + again})`);
    }
    covered = Math.max(covered, hi);
  }
  if (covered < acknowledged) {
    missing += acknowledged - covered;
    note(`missing [${covered}, ${acknowledged})`);
  }
  return { missing, duplicates, unexpected, examples };
}

/** Every stream's runs, by type and publisher. */
export class SeqLedger {
  readonly #streams = new Map<string, SeqRuns>();

  /** The runs of (type, publisher), made on first use: keep it while reading that stream's records. */
  stream(type: string, publisher: string): SeqRuns {
    const key = streamKey(type, publisher);
    let runs = this.#streams.get(key);
    if (!runs) this.#streams.set(key, (runs = new SeqRuns()));
    return runs;
  }

  /**
   * Compares every stream with `acknowledged` (per type and publisher: seqs [0, events) were
   * acknowledged). Streams seen but not acknowledged count wholly as unexpected.
   */
  compare(acknowledged: ReadonlyArray<{ type: string; publisher: string; events: number }>): StreamTally {
    let missing = 0;
    let duplicates = 0;
    let unexpected = 0;
    const examples: string[] = [];
    const expected = new Set<string>();
    for (const a of acknowledged) {
      const key = streamKey(a.type, a.publisher);
      expected.add(key);
      const t = tallyStream(this.#streams.get(key), a.events);
      missing += t.missing;
      duplicates += t.duplicates;
      unexpected += t.unexpected;
      examples.push(...t.examples.map((e) => `${a.type} ${a.publisher}: ${e}`));
    }
    for (const [key, runs] of this.#streams) {
      if (expected.has(key)) continue;
      const t = tallyStream(runs, 0);
      unexpected += t.unexpected;
      examples.push(`${key.replace('\0', ' ')}: ${t.unexpected} records of a stream nobody acknowledged`);
    }
    return { missing, duplicates, unexpected, examples: examples.slice(0, 4 * EXAMPLES) };
  }
}

function streamKey(type: string, publisher: string): string {
  return `${type}\0${publisher}`;
}
