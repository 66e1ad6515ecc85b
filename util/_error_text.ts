// Copyright the pysocklog authors. MIT license.
/**
 * Text of errors and of values whose `toString` may throw: what a record's
 * `exc_text` and the error reports show. Imports nothing.
 *
 * @module
 */

/** How many `cause`s of an Error are written. */
const MAX_CAUSES = 8;

/**
 * The text of an Error as a traceback-like string: its stack (or name and
 * message when it has none), then each `cause` as `Caused by: ...`.
 *
 * @param err An Error.
 * @returns Its text.
 */
export function formatError(err: Error): string {
  let out = errorText(err);
  const seen = new Set<unknown>([err]);
  let cause: unknown = safeCause(err);
  for (
    let i = 0;
    i < MAX_CAUSES && cause !== undefined && !seen.has(cause);
    i++
  ) {
    seen.add(cause);
    out += "\nCaused by: " +
      (cause instanceof Error ? errorText(cause) : safeString(cause));
    cause = cause instanceof Error ? safeCause(cause) : undefined;
  }
  return out;
}

function safeCause(err: Error): unknown {
  try {
    return err.cause;
  } catch {
    return undefined;
  }
}

function errorText(err: Error): string {
  try {
    const stack = err.stack;
    if (typeof stack === "string" && stack.length > 0) return stack;
    return `${err.name}: ${err.message}`;
  } catch {
    return safeString(err);
  }
}

/**
 * `String(v)`, or `[object Tag]` when that throws.
 *
 * @param v Any value.
 * @returns Its text.
 */
export function safeString(v: unknown): string {
  try {
    return String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}
