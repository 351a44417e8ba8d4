// A size-bounded map for immutable bucket objects (closed manifests, late manifests, dead letters): read once, forget the oldest first.

export class BoundedCache<V> {
  readonly #max: number;
  readonly #map = new Map<string, V>();

  constructor(max: number) {
    this.#max = max;
  }

  get(key: string): V | undefined {
    return this.#map.get(key);
  }

  set(key: string, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    // Maps iterate in insertion order: the first key is the oldest.
    while (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value!);
  }

  /** The cached value, or `load()`'s result, cached. */
  async getOrLoad(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.#map.get(key);
    if (hit !== undefined) return hit;
    const value = await load();
    this.set(key, value);
    return value;
  }
}
