// Copyright the pysocklog authors. MIT license.
/**
 * The record encoder: a record's frame, exactly as CPython's
 * `SocketHandler.makePickle` builds it, written with the generic pickle
 * writer of pickle/. {@linkcode writeFrame} is the one entry the handlers
 * use; {@linkcode makePickle} returns the same bytes as an array.
 *
 * This is the hot path of every handler: a record is a template of ready
 * key bytes between its values (record/_template.ts); the strings that
 * repeat (logger, source, function, extra keys) are copied from a cache
 * keyed by the string (record/_run_cache.ts, pickle/_writer.ts); a partial
 * record is read in one pass (record/_partial.ts); its extras are written
 * by record/_extras.ts. This file holds the entries and the two record
 * walks (the template's, and the general one for any other record). On the
 * varied corpus of bench/_corpus.ts, about 1.1 µs (no extras) to 2.4 µs
 * (0-6 extras) of CPU a record on a loaded 2-core machine, where CPython's
 * C `pickle.dumps(d, 2)` of the finished dict takes 2.6-2.9 µs.
 *
 * @module
 */

import * as op from "../pickle/_opcodes.ts";
import type { Writer } from "../pickle/_writer.ts";
import {
  acquireWriter,
  type Memo,
  releaseWriter,
  writeFloat,
  writeScalar,
  writeValue,
} from "../pickle/encode.ts";
import { writeMessage } from "./_message.ts";
import { beginFrame, endFrame } from "./frame.ts";
import {
  fill,
  isLogRecord,
  type LogRecordInit,
  setStandard,
  shell,
} from "./model.ts";
import {
  isScalar,
  releaseMemo,
  takeMemo,
  writeExtra,
  writeExtras,
} from "./_extras.ts";
import { flat, readPartial, writeReadExtras } from "./_partial.ts";
import {
  copyWhole,
  keepTail,
  tail,
  writeLevel,
  writeRepeating,
  writeSource,
} from "./_run_cache.ts";
import {
  actionOf,
  AS_FLOAT,
  AS_MESSAGE,
  AS_NONE,
  K_CREATED,
  K_RELATIVE,
  RECORD_HEAD,
  seg,
  STANDARD_ACTIONS,
  STANDARD_KEYS,
  T_EXC_TEXT,
  T_FILENAME,
  T_FUNCNAME,
  T_LINENO,
  T_MODULE,
  T_MSG,
  T_NAME,
  T_NO_EXC_LINENO,
  T_PATHNAME,
  T_PROCESS,
  T_PROCESSNAME,
  T_STACK_INFO,
  T_TASKNAME,
  T_THREAD,
  T_THREADNAME,
  TIMES,
  TIMES_CREATED,
  TIMES_MSECS,
  TIMES_RELATIVE,
  writeKey,
} from "./_template.ts";

/**
 * The framed bytes CPython's `SocketHandler.makePickle` would send for a
 * record: a 4-byte big-endian length, then a protocol-2 pickle of the
 * record's dict with `msg` formatted by {@linkcode getMessage}, `args` and
 * `exc_info` None and `message` left out. A partial record is first filled
 * as by {@linkcode makeLogRecord}.
 *
 * @example Frame a record
 * ```ts
 * import { makePickle } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * const frame = makePickle({ name: "app", msg: "hello %s", args: ["world"] });
 * const length = new DataView(frame.buffer, frame.byteOffset).getUint32(0);
 * equal(length, frame.length - 4);
 * ```
 *
 * @param record A record dict, or any part of one.
 * @returns The frame: length prefix and pickle.
 * @throws {TypeError} When `msg` and `args` do not format.
 * @throws {RangeError} When the pickle would be longer than 2^32-1 bytes.
 */
export function makePickle(record: LogRecordInit): Uint8Array {
  const w = acquireWriter();
  try {
    writeRecordFrame(w, record, -Infinity);
    return w.take();
  } finally {
    releaseWriter(w);
  }
}

/**
 * Where {@linkcode writeFrame} puts a frame: `buf[offset, offset + length)`.
 * Returns whether it keeps the frame (those bytes are then never written
 * again); a frame not kept is discarded.
 */
export type FrameSink = (
  buf: Uint8Array,
  offset: number,
  length: number,
) => boolean;

/**
 * Writes the frame {@linkcode makePickle} would return into the encoder's
 * shared slab and gives its place to `sink`, making no array for it: how a
 * handler queues a record. A partial record is not made into a record
 * object: its standard keys are set on one scratch record and its extra
 * keys read from it. (Internal: not exported from mod.ts.)
 *
 * @param record A record dict, or any part of one.
 * @param sink Takes the frame's place.
 * @param minLevel Records below this level are not written.
 * @returns Whether the record was at `minLevel` or above (and so written).
 * @throws {TypeError} When `msg` and `args` do not format.
 * @throws {RangeError} When the pickle would be longer than 2^32-1 bytes.
 */
export function writeFrame(
  record: LogRecordInit,
  sink: FrameSink,
  minLevel: number = -Infinity,
): boolean {
  const w = acquireWriter();
  try {
    if (!writeRecordFrame(w, record, minLevel)) return false;
    if (sink(w.buf, w.start, w.pos - w.start)) w.commit();
    else w.pos = w.start;
    return true;
  } finally {
    releaseWriter(w);
  }
}

/** The record writeRecordFrame sets for each partial record; never handed out. */
const scratch = shell();
/** Whether scratch's filename and module are what setStandard derives from its pathname. */
let derivedSource = false;
/** Whether writeRecordFrame is under way (a value's toString may log again). */
let busy = false;

/** Writes a record's frame; writes nothing and returns false below `minLevel`. */
function writeRecordFrame(
  w: Writer,
  record: LogRecordInit,
  minLevel: number,
): boolean {
  // makeLogRecord's records always have processName; most partial ones do
  // not, and a look at it costs less than isLogRecord's WeakSet (~14% of a
  // record's time).
  if (record.processName !== undefined && isLogRecord(record)) {
    if ((record.levelno as number) < minLevel) return false;
    beginFrame(w);
    writeRecordPickle(w, record);
  } else if (busy) {
    // Called again from a value's toString: the scratch state is in use.
    const full = fill(record);
    if (full.levelno < minLevel) return false;
    beginFrame(w);
    writeRecordPickle(w, full);
  } else {
    busy = true;
    try {
      const plain = readPartial(record);
      // filename and module are then derived from pathname alone.
      derivedSource = plain && flat.filename == null && flat.module == null;
      setStandard(scratch, plain ? flat : record);
      if (scratch.levelno < minLevel) return false;
      beginFrame(w);
      if (!writeStandardRecord(w, scratch, plain ? null : record)) {
        writeRecordPickle(w, fill(record));
      }
    } finally {
      busy = false;
    }
  }
  endFrame(w);
  return true;
}

/**
 * Writes the dict CPython's `SocketHandler.makePickle` builds from a record:
 * the record's own keys in order, `msg` replaced by the formatted message,
 * `args` and `exc_info` by None, `message` left out, and `created`, `msecs`,
 * `relativeCreated` always as floats. Writes PROTO and STOP too.
 *
 * This is the hot path of every handler: scalar values are written inline
 * and the memo is only made when a value is a container.
 */
function writeRecordPickle(
  w: Writer,
  record: Readonly<Record<string, unknown>>,
): void {
  if (writeStandardRecord(w, record, null)) return;
  w.ensure(RECORD_HEAD.length);
  w.buf.set(RECORD_HEAD, w.pos);
  w.pos += RECORD_HEAD.length;
  let memo: Memo | null = null;
  let inBatch = 0;
  let std = 0; // index into STANDARD_KEYS while the record follows CPython's order
  for (const key in record) {
    const fast = std < STANDARD_KEYS.length && key === STANDARD_KEYS[std];
    if (!fast && (key === "message" || !Object.hasOwn(record, key))) continue;
    if (inBatch === op.BATCH_SIZE) {
      w.bytes2(op.SETITEMS, op.MARK);
      inBatch = 0;
    }
    inBatch++;
    let action: number;
    if (fast) {
      // A standard key in its usual place: its bytes are ready.
      action = STANDARD_ACTIONS[std];
      writeKey(w, std++);
    } else {
      action = actionOf(key);
      w.byte(op.BINUNICODE);
      w.lengthPrefixedUtf8(key);
    }
    let v = record[key];
    if (action === AS_MESSAGE) {
      writeMessage(w, record);
      continue;
    } else if (action === AS_NONE) {
      v = null;
    } else if (action === AS_FLOAT && typeof v === "number") {
      writeFloat(w, v);
      continue;
    }
    if (typeof v === "object" && v !== null) {
      if (memo === null) memo = takeMemo(record);
      writeValue(w, v, memo);
    } else {
      writeScalar(w, v);
    }
  }
  releaseMemo(memo);
  w.bytes2(op.SETITEMS, op.STOP);
}
/**
 * Writes a record whose first keys are CPython's, in CPython's order (as
 * makeLogRecord makes them), with scalar standard values. Returns false,
 * having written nothing, for any other record.
 */
function writeStandardRecord(
  w: Writer,
  r: Readonly<Record<string, unknown>>,
  extras: Readonly<Record<string, unknown>> | null,
): boolean {
  const name = r.name;
  const levelname = r.levelname;
  const levelno = r.levelno;
  const pathname = r.pathname;
  const filename = r.filename;
  const module = r.module;
  const excText = r.exc_text;
  const stackInfo = r.stack_info;
  const lineno = r.lineno;
  const funcName = r.funcName;
  const created = r.created;
  const msecs = r.msecs;
  const relativeCreated = r.relativeCreated;
  const thread = r.thread;
  const threadName = r.threadName;
  const processName = r.processName;
  const process = r.process;
  const taskName = r.taskName;
  if (
    !(isScalar(name) && isScalar(levelname) && isScalar(levelno) &&
      isScalar(pathname) && isScalar(filename) && isScalar(module) &&
      isScalar(excText) && isScalar(stackInfo) && isScalar(lineno) &&
      isScalar(funcName) && isScalar(created) && isScalar(msecs) &&
      isScalar(relativeCreated) && isScalar(thread) &&
      isScalar(threadName) && isScalar(processName) && isScalar(process) &&
      isScalar(taskName))
  ) return false;
  // Positions are kept from the result's start: a slab that fills up moves
  // the result to a new one.
  const start = w.pos - w.start;
  seg(w, T_NAME);
  writeRepeating(w, name);
  seg(w, T_MSG);
  writeMessage(w, r);
  writeLevel(w, levelname, levelno);
  seg(w, T_PATHNAME);
  if (r === scratch && extras === null && derivedSource) {
    // filename and module follow from pathname: one run for all three.
    writeSource(w, pathname, filename, module);
  } else {
    writeRepeating(w, pathname);
    seg(w, T_FILENAME);
    writeRepeating(w, filename);
    seg(w, T_MODULE);
    writeRepeating(w, module);
  }
  if (excText === null && stackInfo === null) seg(w, T_NO_EXC_LINENO);
  else {
    seg(w, T_EXC_TEXT);
    writeScalar(w, excText);
    seg(w, T_STACK_INFO);
    writeScalar(w, stackInfo);
    seg(w, T_LINENO);
  }
  writeScalar(w, lineno);
  seg(w, T_FUNCNAME);
  writeRepeating(w, funcName);
  // The times: always floats.
  if (
    typeof created === "number" && typeof msecs === "number" &&
    typeof relativeCreated === "number"
  ) {
    w.ensure(TIMES.length);
    const at = w.pos;
    w.buf.set(TIMES, at);
    w.view.setFloat64(at + TIMES_CREATED, created, false);
    w.view.setFloat64(at + TIMES_MSECS, msecs, false);
    w.view.setFloat64(at + TIMES_RELATIVE, relativeCreated, false);
    w.pos = at + TIMES.length;
  } else {
    for (let k = K_CREATED; k <= K_RELATIVE; k++) {
      writeKey(w, k);
      const v = r[STANDARD_KEYS[k]];
      if (typeof v === "number") writeFloat(w, v);
      else writeScalar(w, v);
    }
  }
  if (
    // Object.is: -0 is written as a float, 0 as an int.
    Object.is(thread, tail.thread) && Object.is(threadName, tail.threadName) &&
    Object.is(processName, tail.processName) &&
    Object.is(process, tail.process) && Object.is(taskName, tail.taskName)
  ) {
    copyWhole(w, tail.bytes);
  } else {
    const at = w.pos - w.start;
    seg(w, T_THREAD);
    writeScalar(w, thread);
    seg(w, T_THREADNAME);
    writeRepeating(w, threadName);
    seg(w, T_PROCESSNAME);
    writeRepeating(w, processName);
    seg(w, T_PROCESS);
    writeScalar(w, process);
    seg(w, T_TASKNAME);
    writeRepeating(w, taskName);
    keepTail(
      w,
      w.start + at,
      thread,
      threadName,
      processName,
      process,
      taskName,
    );
  }
  if (r === scratch) {
    // The extras of the partial record the standard ones were set from.
    if (extras === null) writeReadExtras(w);
    else if (!writeExtras(w, extras)) {
      w.pos = w.start + start;
      return false;
    }
    w.bytes2(op.SETITEMS, op.STOP);
    return true;
  }
  // The record's own keys: CPython's first, then the extra ones.
  let memo: Memo | null = null;
  let i = 0;
  for (const key in r) {
    if (i < STANDARD_KEYS.length) {
      if (key !== STANDARD_KEYS[i++]) {
        w.pos = w.start + start;
        return false;
      }
      continue;
    }
    if (key === "message" || !Object.hasOwn(r, key)) continue;
    if (++i >= op.BATCH_SIZE) {
      w.pos = w.start + start; // a thousand keys: the general path batches them
      return false;
    }
    memo = writeExtra(w, key, r[key], memo, r);
  }
  releaseMemo(memo);
  if (i < STANDARD_KEYS.length) {
    w.pos = w.start + start;
    return false;
  }
  w.bytes2(op.SETITEMS, op.STOP);
  return true;
}
