// A one-line progress bar on stderr, drawn only when stderr is a terminal (never in pipes, logs or CI).

/** What the bar writes to: process.stderr, or a fake in tests. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): boolean;
}

export interface ProgressOptions {
  /** Unit of the counts: "bytes" prints KB/MB; anything else prints plain numbers followed by the unit. */
  readonly unit?: string;
  /** Least time between two redraws (ms). Default: 100. */
  readonly redrawMs?: number;
  /** Clock (ms), for tests. Default: Date.now. */
  readonly now?: () => number;
}

export class Progress {
  readonly #stream: ProgressStream | undefined;
  readonly #label: string;
  readonly #total: number | undefined;
  readonly #unit: string;
  readonly #redrawMs: number;
  readonly #now: () => number;
  readonly #startedMs: number;
  #done = 0;
  #drawnMs = -Infinity;
  #drawn = false;

  /** A bar on `stream` if it is a terminal; otherwise one that draws nothing. */
  constructor(stream: ProgressStream, label: string, total: number | undefined, options: ProgressOptions = {}) {
    this.#stream = stream.isTTY ? stream : undefined;
    this.#label = label;
    this.#total = total;
    this.#unit = options.unit ?? '';
    this.#redrawMs = options.redrawMs ?? 100;
    this.#now = options.now ?? Date.now;
    this.#startedMs = this.#now();
  }

  get active(): boolean {
    return this.#stream !== undefined;
  }

  add(n: number): void {
    this.#done += n;
    if (!this.#stream) return;
    const now = this.#now();
    if (now - this.#drawnMs < this.#redrawMs) return;
    this.#drawnMs = now;
    this.#draw(now);
  }

  /** Erases the bar (call before printing anything else, and at the end). Idempotent. */
  clear(): void {
    if (this.#stream && this.#drawn) this.#stream.write('\r\x1b[K');
    this.#drawn = false;
  }

  /** The line as it would be drawn now (exposed for tests). */
  render(now = this.#now()): string {
    const width = Math.max(40, Math.min(this.#stream?.columns || 80, 120));
    const seconds = Math.max((now - this.#startedMs) / 1000, 0.001);
    const rate = `${this.#amount(this.#done / seconds)}/s`;
    if (this.#total === undefined || this.#total <= 0) return `${this.#label} ${this.#amount(this.#done)} ${this.#unitSuffix()}${rate}`.slice(0, width - 1);
    const fraction = Math.min(this.#done / this.#total, 1);
    const total = this.#amount(this.#total);
    // Fixed-width numbers, so the bar does not jitter as they grow.
    const text = ` ${String(Math.floor(fraction * 100)).padStart(3)}% ${this.#amount(this.#done).padStart(total.length)}/${total} ${this.#unitSuffix()}${rate.padStart(9)}`;
    // The numbers always show; the label gives way first, then the bar (down to 10 cells).
    const label = this.#label.slice(0, Math.max(8, width - 1 - text.length - 3 - 10));
    const barWidth = Math.max(10, width - 1 - label.length - text.length - 3);
    const filled = Math.round(fraction * barWidth);
    return `${label} [${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]${text}`;
  }

  #draw(now: number): void {
    this.#stream!.write(`\r${this.render(now)}\x1b[K`);
    this.#drawn = true;
  }

  #unitSuffix(): string {
    return this.#unit && this.#unit !== 'bytes' ? `${this.#unit} ` : '';
  }

  #amount(n: number): string {
    if (this.#unit === 'bytes') return formatBytes(n);
    return n >= 10_000 ? `${(n / 1000).toFixed(n >= 100_000 ? 0 : 1)}k` : String(Math.round(n));
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}
