// Copyright the pysocklog authors. MIT license.
/**
 * The record encoder: a record's frame, exactly as CPython's
 * `SocketHandler.makePickle` builds it, written with the generic pickle
 * writer of pickle/. {@linkcode writeFrame} is the one entry the handlers
 * use; {@linkcode makePickle} returns the same bytes as an array.
 *
 * This is the hot path of every handler: a record is a template of ready
 * key bytes between its values (see "The fast path" below); the strings
 * that repeat (logger, source, function, extra keys) are copied from a
 * cache keyed by the string. On the varied corpus of bench/_corpus.ts,
 * about 1.0-1.4 µs (no extras) to 2.4-2.6 µs (0-6 extras) of CPU a record
 * on a 2-core machine at load average 6-9, where CPython's C
 * `pickle.dumps(d, 2)` of the finished dict takes 2.7-3.2 µs.
 *
 * One cohesive job, over 600 lines: writing a record as its template. The
 * entries, the two record walks, the template's runs and the runs kept
 * between records stay in one module because they share constants and
 * small functions on the hot path: split into four modules, each use of an
 * imported binding goes through a module cell, and writeFrame and
 * makePickle took 2-4% more CPU a record (median of 120 interleaved
 * rounds). A partial record's one-pass read is in record/_partial.ts, the
 * extra keys and their memo in record/_extras.ts.
 *
 * @module
 */

import * as op from "../pickle/_opcodes.ts";
import { BytesCache, copyRun, Writer } from "../pickle/_writer.ts";
import {
  acquireWriter,
  type Memo,
  PROTOCOL,
  releaseWriter,
  writeFloat,
  writeScalar,
  writeValue,
} from "../pickle/encode.ts";
import { keyIndex, RECORD_KEYS } from "./_keys.ts";
import { writeMessage } from "./_message.ts";
import { beginFrame, endFrame } from "./frame.ts";
import {
  basename,
  fill,
  isLogRecord,
  type LogRecordInit,
  setStandard,
  shell,
  stripExtension,
  UNKNOWN_FILE,
  UNKNOWN_MODULE,
} from "./model.ts";
import {
  isScalar,
  releaseMemo,
  takeMemo,
  writeExtra,
  writeExtras,
} from "./_extras.ts";
import { flat, readPartial, writeReadExtras } from "./_partial.ts";
import type { CallerInfo } from "./caller.ts";

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
 * @param where Caller fields written over the record's, as if the record
 * were `{ ...record, ...where }`, without making that copy (which cost
 * 1.6 µs a record on bench:caller's 384 call sites).
 * @returns Whether the record was at `minLevel` or above (and so written).
 * @throws {TypeError} When `msg` and `args` do not format.
 * @throws {RangeError} When the pickle would be longer than 2^32-1 bytes.
 */
export function writeFrame(
  record: LogRecordInit,
  sink: FrameSink,
  minLevel: number = -Infinity,
  where?: CallerInfo,
): boolean {
  const w = acquireWriter();
  try {
    if (!writeRecordFrame(w, record, minLevel, where)) return false;
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
  where?: CallerInfo,
): boolean {
  if (where !== undefined && busy) {
    record = { ...record, ...where };
    where = undefined;
  }
  // makeLogRecord's records always have processName; most partial ones do
  // not, and a look at it costs less than isLogRecord's WeakSet (~14% of a
  // record's time).
  if (
    where === undefined && record.processName !== undefined &&
    isLogRecord(record)
  ) {
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
      if (where !== undefined) {
        // As `{ ...record, ...where }` would be, without the copy.
        if (plain) {
          flat.pathname = where.pathname;
          flat.lineno = where.lineno;
          flat.funcName = where.funcName;
        } else record = { ...record, ...where };
      }
      // filename and module are then derived from pathname alone: only
      // when its run is not kept (writeSource), not by setStandard each
      // time ("" holds their place; basename and stripExtension took ~9%
      // of a record without extras).
      derivedSource = plain && flat.filename == null && flat.module == null;
      if (derivedSource) flat.filename = flat.module = "";
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

// What writeRecordPickle does with a key's value.
const AS_IS = 0;
/** `msg`: the formatted message. */
const AS_MESSAGE = 1;
/** `args`, `exc_info`: None. */
const AS_NONE = 2;
/** `created`, `msecs`, `relativeCreated`: always a float. */
const AS_FLOAT = 3;

function actionOf(key: string): number {
  switch (key) {
    case "msg":
      return AS_MESSAGE;
    case "args":
    case "exc_info":
      return AS_NONE;
    case "created":
    case "msecs":
    case "relativeCreated":
      return AS_FLOAT;
    default:
      return AS_IS;
  }
}

/** CPython's LogRecord keys in CPython's order (as the model builds them). */
const STANDARD_KEYS = RECORD_KEYS;
const STANDARD_ACTIONS = STANDARD_KEYS.map(actionOf);
/** Each standard key as a whole BINUNICODE opcode: `X`, length, UTF-8. */
const STANDARD_KEY_BYTES = STANDARD_KEYS.map((key) => {
  const w = new Writer(64);
  w.byte(op.BINUNICODE);
  w.lengthPrefixedUtf8(key);
  return w.take();
});

/** PROTO 2, EMPTY_DICT, BINPUT 0, MARK: how every record pickle starts. */
const RECORD_HEAD = new Uint8Array([
  op.PROTO,
  PROTOCOL,
  op.EMPTY_DICT,
  op.BINPUT,
  0,
  op.MARK,
]);

// ---- The fast path: a record as makeLogRecord builds it -------------------
//
// The keys are fixed, so a record is a template: runs of ready key bytes
// (with None for args and exc_info) between the values. The values are
// written straight into the slab; the strings that repeat from record to
// record (logger, level, source, function, thread) come from the writer's
// string cache (pickle/_writer.ts), keyed by the string itself, so a new
// logger or call site costs one cache entry, not a miss of a whole block
// (the kept blocks were keyed by 4 sets of values: on 400 call sites they
// missed, about 2.5 µs a record).

/** Indexes into STANDARD_KEYS, derived from it. */
const K_NAME = keyIndex("name");
const K_MSG = keyIndex("msg");
const K_CREATED = keyIndex("created");
const K_MSECS = keyIndex("msecs");
const K_RELATIVE = keyIndex("relativeCreated");

/** The bytes of the keys `from` .. `to` (inclusive), with None after args and exc_info. */
function keysBytes(from: number, to: number, head?: Uint8Array): Uint8Array {
  const w = new Writer(1024);
  if (head !== undefined) w.raw(head);
  for (let k = from; k <= to; k++) {
    w.raw(STANDARD_KEY_BYTES[k]);
    if (k < to && STANDARD_ACTIONS[k] === AS_NONE) w.byte(op.NONE);
  }
  return w.take().slice();
}

// The template's runs of ready bytes: each ends with the key of the next value.
const T_NAME = run(keysBytes(K_NAME, K_NAME, RECORD_HEAD));
const T_MSG = run(keysBytes(K_MSG, K_MSG));
const T_LEVELNAME = run(keysBytes(keyIndex("args"), keyIndex("levelname")));
const T_LEVELNO = run(keysBytes(keyIndex("levelno"), keyIndex("levelno")));
const T_PATHNAME = run(keysBytes(keyIndex("pathname"), keyIndex("pathname")));
const T_FILENAME = run(keysBytes(keyIndex("filename"), keyIndex("filename")));
const T_MODULE = run(keysBytes(keyIndex("module"), keyIndex("module")));
const T_EXC_TEXT = run(keysBytes(keyIndex("exc_info"), keyIndex("exc_text")));
const T_STACK_INFO = run(
  keysBytes(keyIndex("stack_info"), keyIndex("stack_info")),
);
const T_LINENO = run(keysBytes(keyIndex("lineno"), keyIndex("lineno")));
const T_FUNCNAME = run(keysBytes(keyIndex("funcName"), keyIndex("funcName")));
const T_THREAD = run(keysBytes(keyIndex("thread"), keyIndex("thread")));
const T_THREADNAME = run(
  keysBytes(keyIndex("threadName"), keyIndex("threadName")),
);
const T_PROCESSNAME = run(
  keysBytes(keyIndex("processName"), keyIndex("processName")),
);
const T_PROCESS = run(keysBytes(keyIndex("process"), keyIndex("process")));
const T_TASKNAME = run(keysBytes(keyIndex("taskName"), keyIndex("taskName")));
if (keyIndex("taskName") !== STANDARD_KEYS.length - 1) {
  throw new Error("The record template must end with taskName");
}

/**
 * The keys created, msecs and relativeCreated, each followed by BINFLOAT
 * and room for its 8 bytes: the times are set into a copy of it.
 */
const TIMES = (() => {
  const w = new Writer(128);
  for (let k = K_CREATED; k <= K_RELATIVE; k++) {
    w.raw(STANDARD_KEY_BYTES[k]);
    writeFloat(w, 0);
  }
  return w.take().slice();
})();
/** Where each time's 8 bytes are in TIMES. */
const TIMES_CREATED = STANDARD_KEY_BYTES[K_CREATED].length + 1;
const TIMES_MSECS = TIMES_CREATED + 8 + STANDARD_KEY_BYTES[K_MSECS].length + 1;
const TIMES_RELATIVE = TIMES_MSECS + 8 +
  STANDARD_KEY_BYTES[K_RELATIVE].length + 1;

/** pathname, filename and module written, by pathname (see writeSource). */
const sources = new BytesCache();

/**
 * Writes pathname, filename and module, when filename and module are what
 * setStandard derives from pathname: their bytes kept as one run keyed by
 * the pathname (a record's source then costs one look-up, not three).
 */
function writeSource(w: Writer, pathname: string): void {
  if (sources.copy(w, pathname)) return;
  // As setStandard derives them.
  const unknown = pathname === UNKNOWN_FILE;
  const filename = unknown ? UNKNOWN_FILE : basename(pathname);
  const module = unknown ? UNKNOWN_MODULE : stripExtension(filename);
  scratch.filename = filename;
  scratch.module = module;
  const at = w.pos - w.start;
  writeRepeating(w, pathname);
  seg(w, T_FILENAME);
  writeRepeating(w, filename);
  seg(w, T_MODULE);
  writeRepeating(w, module);
  sources.keep(pathname, w.buf, w.start + at, w.pos);
}

/** exc_info None, exc_text None, stack_info None, then the key of lineno. */
const T_NO_EXC_LINENO = (() => {
  const w = new Writer(256);
  w.raw(T_EXC_TEXT.bytes);
  w.byte(op.NONE);
  w.raw(T_STACK_INFO.bytes);
  w.byte(op.NONE);
  w.raw(T_LINENO.bytes);
  return run(w.take().slice());
})();

/** Levels below this have their levelname and levelno kept as one run. */
const KEPT_LEVELS = 64;
/** By levelno: the levelname the run was written with, and the run. */
const levelNames: unknown[] = new Array(KEPT_LEVELS).fill(undefined);
const levelRuns: (Run | undefined)[] = new Array(KEPT_LEVELS).fill(
  undefined,
);

/** Writes levelname and levelno, from the run kept for the level when it matches. */
function writeLevel(w: Writer, levelname: unknown, levelno: unknown): void {
  const kept = typeof levelno === "number" && levelno >= 0 &&
    levelno < KEPT_LEVELS && Number.isInteger(levelno) &&
    !Object.is(levelno, -0);
  if (kept && levelNames[levelno] === levelname) {
    seg(w, levelRuns[levelno]!);
    return;
  }
  const at = w.pos - w.start;
  seg(w, T_LEVELNAME);
  writeRepeating(w, levelname);
  seg(w, T_LEVELNO);
  writeScalar(w, levelno);
  if (kept) {
    // One run per level, made once: bounded by KEPT_LEVELS.
    levelRuns[levelno] = run(w.buf.slice(w.start + at, w.pos));
    levelNames[levelno] = levelname;
  }
}

/** Longest run of thread .. taskName kept. */
const MAX_TAIL_BYTES = 1024;
/** The last values of thread .. taskName and their run (they seldom change). */
const tail = {
  thread: undefined as unknown,
  threadName: undefined as unknown,
  processName: undefined as unknown,
  process: undefined as unknown,
  taskName: undefined as unknown,
  run: run(new Uint8Array(0)),
};
/** Not a value of any record: no record matches the tail before it is kept. */
const NO_VALUE = Symbol("none");
tail.thread = NO_VALUE;

/** Keeps `w.buf[from, w.pos)`, the run of thread .. taskName, for these values. */
function keepTail(
  w: Writer,
  from: number,
  thread: unknown,
  threadName: unknown,
  processName: unknown,
  process: unknown,
  taskName: unknown,
): void {
  const n = w.pos - from;
  if (n > MAX_TAIL_BYTES) return;
  // A copy of its own (they seldom change): copied with set, not a loop.
  tail.run = run(w.buf.slice(from, w.pos));
  tail.thread = thread;
  tail.threadName = threadName;
  tail.processName = processName;
  tail.process = process;
  tail.taskName = taskName;
}

/** Ready bytes, with a view of them for copyRun. */
interface Run {
  readonly bytes: Uint8Array;
  readonly view: DataView;
}

function run(bytes: Uint8Array): Run {
  return {
    bytes,
    view: new DataView(bytes.buffer, bytes.byteOffset, bytes.length),
  };
}

/** Copies ready bytes (8 a step: a loop beats `set`, which costs a call). */
function seg(w: Writer, r: Run): void {
  const bytes = r.bytes;
  const n = bytes.length;
  w.ensure(n);
  w.pos = copyRun(w.buf, w.view, w.pos, bytes, r.view, 0, n);
}

/** A standard value that repeats: a string through the string cache. */
function writeRepeating(w: Writer, v: unknown): void {
  if (typeof v === "string") w.cachedStr(v);
  else writeScalar(w, v);
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
    writeSource(w, pathname as string);
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
    seg(w, tail.run);
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

function writeKey(w: Writer, k: number): void {
  const bytes = STANDARD_KEY_BYTES[k];
  const n = bytes.length;
  w.ensure(n);
  const buf = w.buf;
  let p = w.pos;
  for (let i = 0; i < n; i++) buf[p++] = bytes[i];
  w.pos = p;
}
