// Copyright the pysocklog authors. MIT license.
// A partial record read in one pass: its standard values into one object of
// one shape, its extras into two arrays, then written from there.

import * as op from "../pickle/_opcodes.ts";
import type { Writer } from "../pickle/_writer.ts";
import type { Memo } from "../pickle/encode.ts";
import { RECORD_KEYS } from "./_keys.ts";
import type { LogRecordInit } from "./model.ts";
import { isIndexKey, NOT_A_VALUE, releaseMemo, writeExtra } from "./_extras.ts";

// Records of many shapes (each set of extras is a hidden class of its own)
// make every named load in setStandard megamorphic: 21 of them cost about
// 1 µs a record on the varied corpus. One for-in pass instead copies the
// standard values into `flat` (one shape, so setStandard's loads are
// monomorphic) and the extras into two arrays, written in the same order.

/** The standard keys of the partial record being written; unset ones undefined. */
export const flat: Record<string, unknown> = {
  name: undefined,
  msg: undefined,
  args: undefined,
  levelname: undefined,
  levelno: undefined,
  pathname: undefined,
  filename: undefined,
  module: undefined,
  exc_info: undefined,
  exc_text: undefined,
  stack_info: undefined,
  lineno: undefined,
  funcName: undefined,
  created: undefined,
  msecs: undefined,
  relativeCreated: undefined,
  thread: undefined,
  threadName: undefined,
  processName: undefined,
  process: undefined,
  taskName: undefined,
};
if (Object.keys(flat).join() !== RECORD_KEYS.join()) {
  throw new Error("flat must list the record keys in order");
}
/** The extras of the partial record being written: `extraCount` of them. */
const extraKeys: string[] = [];
const extraValues: unknown[] = [];
let extraCount = 0;

/**
 * Reads a plain partial record into `flat` and the extras. Returns false
 * (and the record is read as it is) for one whose prototype is not
 * Object's (a getter there counts too), or whose extras the general path
 * must order (array-index keys, `__proto__`, a thousand keys).
 */
export function readPartial(init: LogRecordInit): boolean {
  const proto = Object.getPrototypeOf(init);
  if (proto !== Object.prototype && proto !== null) return false;
  const f = flat;
  f.name = undefined;
  // Absent, msg is makeLogRecord's "" (setStandard tells absent from
  // undefined with `in`, and every key is in flat).
  f.msg = "";
  f.args = undefined;
  f.levelname = undefined;
  f.levelno = undefined;
  f.pathname = undefined;
  f.filename = undefined;
  f.module = undefined;
  f.exc_info = undefined;
  f.exc_text = undefined;
  f.stack_info = undefined;
  f.lineno = undefined;
  f.funcName = undefined;
  f.created = undefined;
  f.msecs = undefined;
  f.relativeCreated = undefined;
  f.thread = undefined;
  f.threadName = undefined;
  f.processName = undefined;
  f.process = undefined;
  f.taskName = undefined;
  // for-in lists inherited keys only when Object.prototype has enumerable
  // ones (polluted): then each key's owner is checked (~10 ns a key).
  const inherits = proto !== null && hasEnumerable(Object.prototype);
  let n = 0;
  for (const key in init) {
    if (inherits && !Object.hasOwn(init, key)) continue;
    const v = init[key];
    // A named store each: `f[key] = v` is a keyed store, megamorphic in key.
    switch (key) {
      case "name":
        f.name = v;
        continue;
      case "msg":
        f.msg = v;
        continue;
      case "args":
        f.args = v;
        continue;
      case "levelname":
        f.levelname = v;
        continue;
      case "levelno":
        f.levelno = v;
        continue;
      case "pathname":
        f.pathname = v;
        continue;
      case "filename":
        f.filename = v;
        continue;
      case "module":
        f.module = v;
        continue;
      case "exc_info":
        f.exc_info = v;
        continue;
      case "exc_text":
        f.exc_text = v;
        continue;
      case "stack_info":
        f.stack_info = v;
        continue;
      case "lineno":
        f.lineno = v;
        continue;
      case "funcName":
        f.funcName = v;
        continue;
      case "created":
        f.created = v;
        continue;
      case "msecs":
        f.msecs = v;
        continue;
      case "relativeCreated":
        f.relativeCreated = v;
        continue;
      case "thread":
        f.thread = v;
        continue;
      case "threadName":
        f.threadName = v;
        continue;
      case "processName":
        f.processName = v;
        continue;
      case "process":
        f.process = v;
        continue;
      case "taskName":
        f.taskName = v;
        continue;
      case "message":
      case "asctime":
        return false; // makeLogRecord refuses them: the record as it is
    }
    if (
      key === "__proto__" || isIndexKey(key) ||
      n + RECORD_KEYS.length >= op.BATCH_SIZE - 1
    ) return false;
    extraKeys[n] = key;
    extraValues[n] = v;
    n++;
  }
  extraCount = n;
  return true;
}

/** Whether an object has an enumerable key of its own or inherited. */
function hasEnumerable(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

/** Writes the extras readPartial read, then forgets them. */
export function writeReadExtras(w: Writer): void {
  let memo: Memo | null = null;
  const n = extraCount;
  try {
    for (let i = 0; i < n; i++) {
      // Memo 0 is the record's dict, which no value here can be.
      memo = writeExtra(w, extraKeys[i], extraValues[i], memo, NOT_A_VALUE);
    }
  } finally {
    for (let i = 0; i < n; i++) extraValues[i] = undefined;
    extraCount = 0;
    releaseMemo(memo);
  }
}
