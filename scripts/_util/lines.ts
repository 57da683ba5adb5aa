/**
 * Line-by-line reading of a child process's output, for the scripts that
 * drive servers and load clients in other processes.
 *
 * @module
 */

/**
 * Reads a byte stream as lines. With `keep`, every line read is also kept
 * in `all` (for error messages).
 *
 * @example
 * ```ts
 * import { Lines } from "./lines.ts";
 *
 * const bytes = new TextEncoder().encode("PORT 1234\nready\n");
 * const lines = new Lines(new Blob([bytes]).stream(), { keep: true });
 * const [, port] = await lines.until(/^PORT (\d+)$/, 1000, "the server");
 * console.assert(port === "1234" && (await lines.next()) === "ready" && lines.all.length === 2);
 * ```
 */
export class Lines {
  /** Every line read so far, when created with `keep`. */
  readonly all: string[] = [];
  readonly #reader: ReadableStreamDefaultReader<string>;
  readonly #keep: boolean;
  #buffer = "";

  /** @param stream The child's stdout or stderr. */
  constructor(stream: ReadableStream<Uint8Array>, options: { keep?: boolean } = {}) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
    this.#keep = options.keep ?? false;
  }

  /** The next line, or `null` at the end. */
  async next(): Promise<string | null> {
    for (;;) {
      const newline = this.#buffer.indexOf("\n");
      if (newline >= 0) {
        const line = this.#buffer.slice(0, newline);
        this.#buffer = this.#buffer.slice(newline + 1);
        if (this.#keep) this.all.push(line);
        return line;
      }
      const { value, done } = await this.#reader.read();
      if (done) {
        const rest = this.#buffer;
        this.#buffer = "";
        if (rest && this.#keep) this.all.push(rest);
        return rest || null;
      }
      this.#buffer += value;
    }
  }

  /** Reads lines until one matches, within `ms`. */
  async until(pattern: RegExp, ms: number, what: string): Promise<RegExpExecArray> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no ${pattern} within ${ms} ms`)), ms);
    });
    try {
      for (;;) {
        const line = await Promise.race([this.next(), timeout]);
        if (line === null) throw new Error(`${what} ended before ${pattern}`);
        const match = pattern.exec(line);
        if (match) return match;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Keeps reading in the background (kept in `all` with `keep`), so the child never blocks on a full pipe. */
  drain(): void {
    (async () => {
      try {
        while ((await this.next()) !== null) { /* read on */ }
      } catch { /* closed */ }
    })();
  }
}
