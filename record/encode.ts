// Copyright the pysocklog authors. MIT license.
/**
 * The record encoder: a record's frame, exactly as CPython's
 * `SocketHandler.makePickle` builds it, written with the generic pickle
 * writer of pickle/. {@linkcode writeFrame} is the one entry the handlers
 * use; {@linkcode makePickle} returns the same bytes as an array.
 *
 * This is the hot path of every handler (about 0.3 µs a record): scalar
 * values are written inline, the memo is only made when a value is a
 * container, and the keys whose values seldom change are copied as ready
 * bytes (see "The fast path" below).
 *
 * @module
 */

import * as op from "../pickle/_opcodes.ts";
import { Writer } from "../pickle/_writer.ts";
import {
  acquireWriter,
  type Memo,
  PROTOCOL,
  releaseWriter,
  writeFloat,
  writeScalar,
  writeStr,
  writeValue,
} from "../pickle/encode.ts";
import { keyIndex, RECORD_KEY_SET, RECORD_KEYS } from "./_keys.ts";
import { writeMessage } from "./_message.ts";
import { beginFrame, endFrame } from "./frame.ts";
import {
  fill,
  isLogRecord,
  type LogRecordInit,
  setStandard,
  shell,
} from "./model.ts";

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

/** Writes a record's frame; writes nothing and returns false below `minLevel`. */
function writeRecordFrame(
  w: Writer,
  record: LogRecordInit,
  minLevel: number,
): boolean {
  if (isLogRecord(record)) {
    if ((record.levelno as number) < minLevel) return false;
    beginFrame(w);
    writeRecordPickle(w, record);
  } else {
    setStandard(scratch, record);
    if (scratch.levelno < minLevel) return false;
    beginFrame(w);
    if (!writeStandardRecord(w, scratch, record)) {
      writeRecordPickle(w, fill(record));
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
      if (memo === null) memo = new Map([[record, 0]]);
      writeValue(w, v, memo);
    } else {
      writeScalar(w, v);
    }
  }
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
// Between the values that change with every record (msg, created, msecs,
// relativeCreated) lie runs of keys whose values seldom change (a logger's
// name; the level, source and function of a call; thread and process).
// Each run is a block: its bytes are kept for the last few sets of values
// seen, and copied whole when the values are the same (compared with ===).

/** Sets of values each block keeps bytes for (alternating loggers, levels). */
const BLOCK_CACHE_SIZE = 4;
/** A block longer than this is written each time, not kept. */
const MAX_BLOCK_BYTES = 4096;
/** Indexes into STANDARD_KEYS, derived from it. */
const K_NAME = keyIndex("name");
const K_MSG = keyIndex("msg");
const K_CREATED = keyIndex("created");
const K_MSECS = keyIndex("msecs");
const K_RELATIVE = keyIndex("relativeCreated");

/** The bytes of one block for one set of values. */
interface BlockBytes {
  values: unknown[];
  bytes: Uint8Array;
}

/** The kept bytes of one block. */
class Block {
  readonly entries: BlockBytes[] = [];
  next = 0;
  /** Keys whose values the block holds and compares: those not always None. */
  readonly keys: readonly number[];
  /** Their names, for reading a record's values. */
  readonly names: readonly string[];
  /**
   * @param first The first key the block writes.
   * @param last The last key it writes (None ones included).
   */
  constructor(readonly first: number, readonly last: number) {
    const keys: number[] = [];
    for (let k = first; k <= last; k++) {
      if (STANDARD_ACTIONS[k] !== AS_NONE) keys.push(k);
    }
    this.keys = keys;
    this.names = keys.map((k) => STANDARD_KEYS[k]);
    this.matches = compileMatcher(this.names);
  }

  /** Whether kept values equal the record's (===), one named load per key. */
  readonly matches: (
    values: readonly unknown[],
    r: Readonly<Record<string, unknown>>,
  ) => boolean;

  /** Copies the bytes kept for the record's values, if any; returns whether it did. */
  copy(w: Writer, r: Readonly<Record<string, unknown>>): boolean {
    const matches = this.matches;
    for (const e of this.entries) {
      if (matches(e.values, r)) {
        copy(w, e.bytes);
        return true;
      }
    }
    return false;
  }

  /** Keeps the bytes just written for these values. */
  keep(values: unknown[], w: Writer, start: number): void {
    const n = w.pos - start;
    if (n > MAX_BLOCK_BYTES) return;
    const entry = { values, bytes: w.buf.slice(start, w.pos) };
    if (this.entries.length < BLOCK_CACHE_SIZE) this.entries.push(entry);
    else this.entries[this.next] = entry;
    this.next = (this.next + 1) % BLOCK_CACHE_SIZE;
  }
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

/** The logger's name. */
const block1 = new Block(K_NAME, K_NAME);
/** args (None) .. funcName: level, source and function of the call. */
const block2 = new Block(keyIndex("args"), keyIndex("funcName"));
/** thread .. taskName. */
const block3 = new Block(keyIndex("thread"), keyIndex("taskName"));

/**
 * `(v, r) => v[0] === r.levelname && v[1] === r.levelno && ...`, made from
 * the key names: V8 compiles each `r.key` to a named load, where a loop of
 * `r[names[i]]` is a keyed load (a record's frame: 240 -> 400 ns).
 */
function compileMatcher(
  names: readonly string[],
): (
  values: readonly unknown[],
  r: Readonly<Record<string, unknown>>,
) => boolean {
  const test = names.map((name, i) => `v[${i}] === r[${JSON.stringify(name)}]`)
    .join(" && ");
  return new Function("v", "r", `return ${test};`) as (
    values: readonly unknown[],
    r: Readonly<Record<string, unknown>>,
  ) => boolean;
}

/** Whether a value can be kept in a block (compared by ===, no memo). */
function isScalar(v: unknown): boolean {
  return typeof v !== "object" || v === null;
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
  // Positions are kept from the result's start: a slab that fills up moves
  // the result to a new one.
  const start = w.pos - w.start;
  // Block 1: the head, the logger name, the key of msg.
  const name = r.name;
  if (!isScalar(name)) return false;
  if (!block1.copy(w, r)) {
    const at = w.pos - w.start;
    w.ensure(RECORD_HEAD.length);
    w.buf.set(RECORD_HEAD, w.pos);
    w.pos += RECORD_HEAD.length;
    writeKey(w, K_NAME);
    writeScalar(w, name);
    writeKey(w, K_MSG);
    block1.keep([name], w, w.start + at);
  }
  writeMessage(w, r);
  // Block 2: args (None), levelname .. funcName (exc_info, None, inside).
  if (!block2.copy(w, r) && !writeBlock(w, r, block2)) {
    w.pos = w.start + start;
    return false;
  }
  // The times: always floats.
  const created = r.created;
  const msecs = r.msecs;
  const relativeCreated = r.relativeCreated;
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
      else if (isScalar(v)) writeScalar(w, v);
      else {
        w.pos = w.start + start;
        return false;
      }
    }
  }
  // Block 3: thread .. taskName.
  if (!block3.copy(w, r) && !writeBlock(w, r, block3)) {
    w.pos = w.start + start;
    return false;
  }
  if (extras !== null) {
    // The extra keys of the partial record the standard ones were set from.
    if (!writeExtras(w, extras)) {
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
  if (i < STANDARD_KEYS.length) {
    w.pos = w.start + start;
    return false;
  }
  w.bytes2(op.SETITEMS, op.STOP);
  return true;
}

/** The extra keys of `init`, as makeLogRecord copies them. */
function writeExtras(
  w: Writer,
  init: Readonly<Record<string, unknown>>,
): boolean {
  let memo: Memo | null = null;
  let n = STANDARD_KEYS.length;
  for (const key in init) {
    if (STANDARD_KEY_SET.has(key) || !Object.hasOwn(init, key)) continue;
    if (key === "message") continue;
    if (key === "__proto__" || isIndexKey(key) || ++n >= op.BATCH_SIZE) {
      return false;
    }
    // Memo 0 is the record's dict, which no value here can be.
    memo = writeExtra(w, key, init[key], memo, NOT_A_VALUE);
  }
  return true;
}

/**
 * Writes an extra key and its value. The memo is made for the first value
 * that is a container, with `dict` (the record's dict) as its entry 0.
 * Returns the memo.
 */
function writeExtra(
  w: Writer,
  key: string,
  v: unknown,
  memo: Memo | null,
  dict: object,
): Memo | null {
  writeStr(w, key);
  if (isScalar(v)) {
    writeScalar(w, v);
    return memo;
  }
  memo ??= new Map([[dict, 0]]);
  writeValue(w, v, memo);
  return memo;
}

const STANDARD_KEY_SET = RECORD_KEY_SET;
/** Holds memo 0 (the record's dict) in the memo of writeExtras. */
const NOT_A_VALUE = {};
/** Largest array index (2^32 - 2). */
const MAX_INDEX = 4_294_967_294;

/** Whether a key is an array index, which objects list before other keys. */
function isIndexKey(key: string): boolean {
  const c = key.charCodeAt(0);
  if (c < 0x30 || c > 0x39) return false;
  return /^(?:0|[1-9][0-9]*)$/.test(key) && Number(key) <= MAX_INDEX;
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

function copy(w: Writer, bytes: Uint8Array): void {
  w.ensure(bytes.length);
  w.buf.set(bytes, w.pos);
  w.pos += bytes.length;
}

/**
 * Writes a block not kept yet (its keys, with None for `args` and
 * `exc_info`, and the record's values) and keeps it. Returns false, having
 * kept nothing, when a value is not a scalar.
 */
function writeBlock(
  w: Writer,
  r: Readonly<Record<string, unknown>>,
  block: Block,
): boolean {
  const values = block.names.map((key) => r[key]);
  if (!values.every(isScalar)) return false;
  const at = w.pos - w.start;
  for (let k = block.first; k <= block.last; k++) {
    writeKey(w, k);
    if (STANDARD_ACTIONS[k] === AS_NONE) w.byte(op.NONE);
    else writeScalar(w, r[STANDARD_KEYS[k]]);
  }
  block.keep(values, w, w.start + at);
  return true;
}
