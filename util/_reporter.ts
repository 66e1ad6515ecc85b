// Copyright the pysocklog authors. MIT license.
/**
 * The rate-limited error reporter the handlers and the receiver share: the
 * first error of each kind is reported at once; later ones of that kind
 * within {@linkcode REPORT_INTERVAL_MS} are only counted, and the count is
 * told with the next report of that kind.
 *
 * @module
 */

/** After a report of one kind, further errors of that kind are counted for this long. */
export const REPORT_INTERVAL_MS = 5_000;
/** Most characters of a record's text (its message, say) a report quotes. */
export const MAX_QUOTED_CHARS = 300;

/** Reports errors to a sink (stderr by default), rate-limited per kind. */
export class Reporter {
  readonly #last = new Map<string, number>();
  readonly #suppressed = new Map<string, number>();
  readonly #write: (text: string) => void;
  readonly #interval: number;

  /**
   * @param write Where reports go.
   * @param interval Quiet time per kind after a report, in ms.
   */
  constructor(
    write: (text: string) => void = (text) => console.error(text),
    interval: number = REPORT_INTERVAL_MS,
  ) {
    this.#write = write;
    this.#interval = interval;
  }

  /**
   * Reports `text()` unless an error of `kind` was reported less than the
   * interval ago; then only counts it. Never throws.
   *
   * @param kind The kind of error (errors of different kinds never hide each other).
   * @param text Makes the report's text (called only when reported).
   * @returns Whether it was reported.
   */
  report(kind: string, text: () => string): boolean {
    try {
      const now = Date.now();
      const last = this.#last.get(kind);
      if (last !== undefined && now - last < this.#interval) {
        this.#suppressed.set(kind, (this.#suppressed.get(kind) ?? 0) + 1);
        return false;
      }
      this.#last.set(kind, now);
      const n = this.#suppressed.get(kind) ?? 0;
      this.#suppressed.delete(kind);
      const more = n > 0
        ? `\n(${n} more ${kind} errors were suppressed before this one)`
        : "";
      this.#write(text() + more);
      return true;
    } catch {
      return false; // reporting must never throw into the caller
    }
  }

  /**
   * Tells, in one report, the errors counted since their kind's last
   * report, which would otherwise wait for a next report of that kind
   * (a program that failed 3 records of a kind and ended saw 1). Never
   * throws.
   *
   * @param head The report's first line.
   */
  tellSuppressed(head: string): void {
    if (this.#suppressed.size === 0) return;
    const lines = [...this.#suppressed].map(([kind, n]) =>
      `${n} more ${kind} errors were not reported (rate-limited)`
    );
    this.#suppressed.clear();
    try {
      this.#write(`${head}\n${lines.join("\n")}`);
    } catch {
      // nowhere to report to
    }
  }
}

/**
 * `text` cut to at most `max` characters, with what was cut counted.
 *
 * @param text Any text.
 * @param max Most characters kept.
 * @returns The text, or its head and `… (N more characters)`.
 */
export function clip(text: string, max: number = MAX_QUOTED_CHARS): string {
  return text.length <= max
    ? text
    : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}
