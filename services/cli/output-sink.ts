// Writes to stdout with backpressure: waits for 'drain' when the stream's buffer is full, and stops quietly when the reader goes away (EPIPE, e.g. `| head`).
import type { Writable } from 'node:stream';

export class OutputSink {
  readonly #stream: Writable;
  #closed = false;
  #error: Error | undefined;

  constructor(stream: Writable) {
    this.#stream = stream;
    const onError = (err: NodeJS.ErrnoException) => {
      this.#closed = true;
      if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') this.#error = err;
    };
    stream.on('error', onError);
  }

  /** True once the reader has gone (or writing failed): stop producing output. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Writes `text`; resolves at once, or after 'drain' when the stream asks the writer to wait. */
  async write(text: string): Promise<void> {
    if (this.#error) throw this.#error;
    if (this.#closed) return;
    if (this.#stream.write(text)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.#stream.off('drain', done);
        this.#stream.off('close', done);
        this.#stream.off('error', done);
        resolve();
      };
      this.#stream.once('drain', done);
      this.#stream.once('close', done);
      this.#stream.once('error', done);
    });
  }
}
