// Starts reads ahead of their use, in the order they will be needed, with at most `limit` in flight.
export function readAhead<K, V>(keys: readonly K[], limit: number, read: (key: K) => Promise<V>): Map<K, Promise<V>> {
  const out = new Map<K, Promise<V>>();
  const starters: Array<() => void> = [];
  let active = 0;
  let next = 0;
  const pump = () => {
    while (active < limit && next < starters.length) starters[next++]!();
  };
  for (const key of keys) {
    if (out.has(key)) continue;
    let start!: () => void;
    const result = new Promise<V>((resolve, reject) => {
      start = () => {
        active++;
        read(key)
          .then(resolve, reject)
          .finally(() => {
            active--;
            pump();
          });
      };
    });
    // The caller awaits each result in turn; a failure before then must not count as unhandled.
    result.catch(() => undefined);
    starters.push(start);
    out.set(key, result);
  }
  pump();
  return out;
}
