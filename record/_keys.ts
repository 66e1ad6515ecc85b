// Copyright the pysocklog authors. MIT license.
/**
 * The keys of CPython's LogRecord (3.12), in CPython's order: the one list
 * the record model and the record encoder both derive from.
 *
 * @module
 */

/** The keys CPython's LogRecord has, in CPython's order. */
export const RECORD_KEYS: readonly string[] = Object.freeze(
  [
    "name",
    "msg",
    "args",
    "levelname",
    "levelno",
    "pathname",
    "filename",
    "module",
    "exc_info",
    "exc_text",
    "stack_info",
    "lineno",
    "funcName",
    "created",
    "msecs",
    "relativeCreated",
    "thread",
    "threadName",
    "processName",
    "process",
    "taskName",
  ],
);

/** The standard keys, for membership tests. */
export const RECORD_KEY_SET: ReadonlySet<string> = new Set(RECORD_KEYS);

/**
 * The position of a key in {@linkcode RECORD_KEYS}. Used at module load, so
 * a key that is not there fails at once, not on some later record.
 *
 * @param key A standard key.
 * @returns Its index.
 * @throws {RangeError} When it is not a standard key.
 */
export function keyIndex(key: string): number {
  const i = RECORD_KEYS.indexOf(key);
  if (i < 0) throw new RangeError(`Not a LogRecord key: ${key}`);
  return i;
}
