// Copyright the pysocklog authors. MIT license.
// The keys of CPython's LogRecord (3.12), in CPython's order: one list for
// record.ts (RECORD_KEYS) and the encoder's pre-encoded keys.

/** The keys CPython's LogRecord has, in CPython's order. */
export const RECORD_KEYS: readonly string[] = Object.freeze([
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
]);
