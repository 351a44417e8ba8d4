// Seqs already delivered (in closed windows or the late area), per type and publisher, kept in the bucket.
//
// Each checker writes checker/coverage/<type>/<checker>.json and reads everyone's; coverage only
// grows, so the union of all replicas' files is always right, whoever wrote last.
import type { Storage } from '../storage/storage.ts';
import { WindowedRuns, type Run } from './windowed-runs.ts';

const prefix = (type: string) => `checker/coverage/${type}/`;

/** Where replica `checkerId` saves its coverage of `type` (rewritten at most once a second: checker.ts paces it). */
export const coverageKey = (type: string, checkerId: string) => `${prefix(type)}${checkerId}.json`;

export class CoverageStore {
  readonly #byType = new Map<string, Map<string, WindowedRuns>>();

  runs(type: string): Map<string, WindowedRuns> {
    let m = this.#byType.get(type);
    if (!m) this.#byType.set(type, (m = new Map()));
    return m;
  }

  add(type: string, publisher: string, from: number, to: number, window: number): void {
    const m = this.runs(type);
    let r = m.get(publisher);
    if (!r) m.set(publisher, (r = new WindowedRuns()));
    r.add(from, to, window, window);
  }

  async load(storage: Storage, type: string): Promise<void> {
    const m = this.runs(type);
    for (const o of await storage.list(prefix(type))) {
      try {
        const data = JSON.parse((await storage.get(o.key)).toString('utf8')) as Record<string, Run[]>;
        for (const [publisher, runs] of Object.entries(data)) {
          let r = m.get(publisher);
          if (!r) m.set(publisher, (r = new WindowedRuns()));
          r.addAll(WindowedRuns.of(runs));
        }
      } catch {
        // replaced under us; read again next round
      }
    }
  }

  async save(storage: Storage, type: string, checkerId: string, keep: (publisher: string) => boolean): Promise<void> {
    const out: Record<string, Run[]> = {};
    for (const [publisher, runs] of this.runs(type)) if (keep(publisher)) out[publisher] = runs.runs;
    await storage.put(coverageKey(type, checkerId), JSON.stringify(out));
  }
}
