// Copyright the pysocklog authors. MIT license.
/**
 * A pure-TypeScript pickle protocol-2 encoder whose output CPython's
 * `pickle.loads` reads.
 *
 * @module
 */

import { RECORD_KEYS } from "../_record_keys.ts";
import * as op from "./_opcodes.ts";
import {
  isTuple,
  type PickleFloat,
  PickleFloat as Float,
  tuple,
} from "./_types.ts";
import { Writer } from "./_writer.ts";

/**
 * The values the encoder maps to a Python type of their own. Anything else
 * (a function, a symbol, a class instance) is written as its `String()`.
 *
 * | JavaScript | Python |
 * |---|---|
 * | `null`, `undefined` | `None` |
 * | `boolean` | `bool` |
 * | safe integer `number` | `int` |
 * | other `number` (fraction, NaN, ±Infinity, -0), {@linkcode PickleFloat} | `float` |
 * | `bigint` | `int` of any size |
 * | `string` | `str` (a lone surrogate survives, as with `surrogatepass`) |
 * | `Uint8Array` | `bytes` |
 * | `Array` | `list` |
 * | a tuple from `tuple()` | `tuple` |
 * | plain object, `Map` | `dict` |
 * | `Set` | `set` |
 * | `Date` | `float` POSIX seconds |
 * | `Error` | `str` of its stack (and its causes) |
 */
export type PickleValue =
  | null
  | undefined
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | Date
  | Error
  | PickleFloat
  | readonly PickleValue[]
  | Map<PickleValue, PickleValue>
  | Set<PickleValue>
  | { [key: string]: PickleValue };

/** The protocol this encoder writes. */
const PROTOCOL = 2;
/** Deepest container a dict key or set item is converted through. */
const MAX_KEY_DEPTH = 100;
/** How many `cause`s of an Error are written. */
const MAX_CAUSES = 8;

const GLOBAL_CODECS_ENCODE = "_codecs\nencode\n";
const GLOBAL_BYTES = "__builtin__\nbytes\n";
const GLOBAL_SET = "__builtin__\nset\n";
const LATIN1 = "latin1";

// Kinds of container frame on the encoder's explicit stack.
const LIST = 0;
const TUPLE = 1;
const OBJECT = 2;
const MAP = 3;
const SET = 4;

/** Batch state of a frame: none open, a single item open, a MARK open. */
const CLOSED = 0;
const SINGLE = 1;
const MARKED = 2;
/** Tuples have no batches. */
const UNBATCHED = 3;

interface Frame {
  kind: number;
  obj: object;
  /** List items, dict keys (OBJECT) or flattened map entries. */
  items: readonly unknown[];
  /** Number of slots: items, or 2 per dict entry. */
  n: number;
  /** Next slot. */
  i: number;
  /** Batch state. */
  open: number;
  /** Slot at which the open batch ends. */
  end: number;
}

/** Per-call encoder state: the memo, keyed by object identity. */
type Memo = Map<object, number>;

/**
 * Encodes a value as a pickle of protocol 2 (it starts `\x80\x02`), which
 * every CPython 3 reads with `pickle.loads`. Shared and cyclic references
 * are kept: CPython rebuilds the same graph. Nesting depth is not limited by
 * the JavaScript stack (the encoder keeps its own).
 *
 * @example Encode a dict
 * ```ts
 * import { dumps } from "@pysocklog/pysocklog";
 * import { deepEqual } from "node:assert/strict";
 *
 * const bytes = dumps({ a: 1 });
 * // pickle.loads(bytes) == {'a': 1}
 * deepEqual(bytes.subarray(0, 2), new Uint8Array([0x80, 2]));
 * ```
 *
 * @param value Any value; see {@linkcode PickleValue} for the mapping.
 * @returns The pickle bytes.
 */
export function dumps(value: unknown): Uint8Array {
  const w = acquireWriter();
  try {
    w.bytes2(op.PROTO, PROTOCOL);
    encodeValue(w, value, new Map());
    w.byte(op.STOP);
    return w.take();
  } finally {
    releaseWriter(w);
  }
}

let sharedWriter: Writer | null = null;

/**
 * The module's writer, or a fresh one while it is in use (a value's
 * `toString` may call the encoder again).
 */
export function acquireWriter(): Writer {
  const w = sharedWriter ?? new Writer();
  sharedWriter = null;
  w.pos = w.start; // drop what a failed call left behind
  return w;
}

/** Gives the writer back. */
export function releaseWriter(w: Writer): void {
  sharedWriter = w;
}

/** Writes a record's formatted message as a pickled str. */
export type MessageWriter = (
  w: Writer,
  record: Readonly<Record<string, unknown>>,
) => void;

/**
 * Writes the dict CPython's `SocketHandler.makePickle` builds from a record:
 * the record's own keys in order, `msg` replaced by the formatted message,
 * `args` and `exc_info` by None, `message` left out, and `created`, `msecs`,
 * `relativeCreated` always as floats. Writes PROTO and STOP too.
 *
 * This is the hot path of every handler: scalar values are written inline
 * and the memo is only made when a value is a container.
 */
export function writeRecordPickle(
  w: Writer,
  record: Readonly<Record<string, unknown>>,
  writeMessage: MessageWriter,
): void {
  if (writeStandardRecord(w, record, writeMessage, null)) return;
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
      encodeValue(w, v, memo);
    } else {
      put(w, v, EMPTY_MEMO, NO_STACK);
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

/** CPython's LogRecord keys in CPython's order (as record.ts builds them). */
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
/** Scalars never touch the memo or the stack: these stay empty. */
const EMPTY_MEMO: Memo = new Map();
const NO_STACK: Frame[] = [];

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
/** Indexes into STANDARD_KEYS. */
const K_NAME = 0;
const K_MSG = 1;
const K_ARGS = 2;
const K_FUNCNAME = 12;
const K_CREATED = 13;
const K_MSECS = 14;
const K_RELATIVE = 15;
const K_THREAD = 16;
const K_TASKNAME = 20;
/** Keys of block 2: levelname through funcName, less exc_info (always None). */
const BLOCK2_KEYS = [3, 4, 5, 6, 7, 9, 10, 11, 12];
/** Keys of block 3: thread through taskName. */
const BLOCK3_KEYS = [16, 17, 18, 19, 20];

/** The bytes of one block for one set of values. */
interface BlockBytes {
  values: unknown[];
  bytes: Uint8Array;
}

/** The kept bytes of one block. */
class Block {
  readonly entries: BlockBytes[] = [];
  next = 0;
  constructor(
    /** Keys whose values the block holds (and compares). */
    readonly keys: readonly number[],
    /** The first and last key the block writes (None ones included). */
    readonly first: number,
    readonly last: number,
  ) {}

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

const block1 = new Block([K_NAME], K_NAME, K_NAME);
const block2 = new Block(BLOCK2_KEYS, K_ARGS, K_FUNCNAME);
const block3 = new Block(BLOCK3_KEYS, K_THREAD, K_TASKNAME);

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
  writeMessage: MessageWriter,
  extras: Readonly<Record<string, unknown>> | null,
): boolean {
  // Positions are kept from the result's start: a slab that fills up moves
  // the result to a new one.
  const start = w.pos - w.start;
  // Block 1: the head, the logger name, the key of msg.
  const name = r.name;
  if (!isScalar(name)) return false;
  if (!copyBlock1(w, name)) {
    const at = w.pos - w.start;
    w.ensure(RECORD_HEAD.length);
    w.buf.set(RECORD_HEAD, w.pos);
    w.pos += RECORD_HEAD.length;
    writeKey(w, K_NAME);
    put(w, name, EMPTY_MEMO, NO_STACK);
    writeKey(w, K_MSG);
    block1.keep([name], w, w.start + at);
  }
  writeMessage(w, r);
  // Block 2: args (None), levelname .. funcName (exc_info, None, inside).
  if (!copyBlock2(w, r) && !writeBlock(w, r, block2)) {
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
      else if (isScalar(v)) put(w, v, EMPTY_MEMO, NO_STACK);
      else {
        w.pos = w.start + start;
        return false;
      }
    }
  }
  // Block 3: thread .. taskName.
  if (!copyBlock3(w, r) && !writeBlock(w, r, block3)) {
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

/**
 * Writes the record `makeLogRecord(init)` would make, given its standard
 * keys already set on `standard` (an object with exactly those keys, in
 * CPython's order) and its extra keys in `init`. Returns false, having
 * written nothing, when the record needs the general path (see
 * writeRecordPickle): a standard value that is not a scalar, an extra key
 * that is an array index (such keys come first in a JavaScript object),
 * `__proto__`, or a thousand keys.
 */
export function writeRecordPickleOf(
  w: Writer,
  standard: Readonly<Record<string, unknown>>,
  init: Readonly<Record<string, unknown>>,
  writeMessage: MessageWriter,
): boolean {
  return writeStandardRecord(w, standard, writeMessage, init);
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
    put(w, v, EMPTY_MEMO, NO_STACK);
    return memo;
  }
  memo ??= new Map([[dict, 0]]);
  encodeValue(w, v, memo);
  return memo;
}

const STANDARD_KEY_SET: ReadonlySet<string> = new Set(STANDARD_KEYS);
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

function copy(w: Writer, bytes: Uint8Array): true {
  w.ensure(bytes.length);
  w.buf.set(bytes, w.pos);
  w.pos += bytes.length;
  return true;
}

function copyBlock1(w: Writer, name: unknown): boolean {
  for (const e of block1.entries) {
    if (e.values[0] === name) return copy(w, e.bytes);
  }
  return false;
}

function copyBlock2(w: Writer, r: Readonly<Record<string, unknown>>): boolean {
  for (const { values: v, bytes } of block2.entries) {
    if (
      v[0] === r.levelname && v[1] === r.levelno && v[2] === r.pathname &&
      v[3] === r.filename && v[4] === r.module && v[5] === r.exc_text &&
      v[6] === r.stack_info && v[7] === r.lineno && v[8] === r.funcName
    ) return copy(w, bytes);
  }
  return false;
}

function copyBlock3(w: Writer, r: Readonly<Record<string, unknown>>): boolean {
  for (const { values: v, bytes } of block3.entries) {
    if (
      v[0] === r.thread && v[1] === r.threadName && v[2] === r.processName &&
      v[3] === r.process && v[4] === r.taskName
    ) return copy(w, bytes);
  }
  return false;
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
  const values = block.keys.map((k) => r[STANDARD_KEYS[k]]);
  if (!values.every(isScalar)) return false;
  const at = w.pos - w.start;
  for (let k = block.first; k <= block.last; k++) {
    writeKey(w, k);
    if (STANDARD_ACTIONS[k] === AS_NONE) w.byte(op.NONE);
    else put(w, r[STANDARD_KEYS[k]], EMPTY_MEMO, NO_STACK);
  }
  block.keep(values, w, w.start + at);
  return true;
}

/** Encodes one value (iteratively: nesting is not bounded by the JS stack). */
function encodeValue(w: Writer, root: unknown, memo: Memo): void {
  const stack: Frame[] = [];
  if (!put(w, root, memo, stack)) return;
  outer: while (stack.length > 0) {
    const f = stack[stack.length - 1];
    for (;;) {
      if (f.i === f.end && f.open !== CLOSED) {
        closeBatch(w, f);
      }
      if (f.i === f.n) {
        stack.pop();
        finish(w, f, memo);
        continue outer;
      }
      if (f.open === CLOSED) openBatch(w, f);
      const slot = f.i++;
      const item = f.kind === OBJECT
        ? (slot & 1) === 0
          ? f.items[slot >> 1]
          : (f.obj as Record<string, unknown>)[f.items[slot >> 1] as string]
        : f.items[slot];
      if (put(w, item, memo, stack)) continue outer;
    }
  }
}

function frame(
  kind: number,
  obj: object,
  items: readonly unknown[],
  n: number,
): Frame {
  return { kind, obj, items, n, i: 0, open: CLOSED, end: 0 };
}

/** Starts a batch of APPENDS/SETITEMS, as CPython's `_batch_appends`. */
function openBatch(w: Writer, f: Frame): void {
  const per = f.kind === OBJECT || f.kind === MAP ? 2 : 1;
  const size = Math.min(op.BATCH_SIZE * per, f.n - f.i);
  f.end = f.i + size;
  if (size > per) {
    w.byte(op.MARK);
    f.open = MARKED;
  } else {
    f.open = SINGLE;
  }
}

function closeBatch(w: Writer, f: Frame): void {
  const dict = f.kind === OBJECT || f.kind === MAP;
  if (f.open === MARKED) w.byte(dict ? op.SETITEMS : op.APPENDS);
  else if (f.open === SINGLE) w.byte(dict ? op.SETITEM : op.APPEND);
  f.open = CLOSED;
}

/** Ends a container whose items are all written. */
function finish(w: Writer, f: Frame, memo: Memo): void {
  if (f.kind === SET) {
    w.bytes2(op.TUPLE1, op.REDUCE);
    memoize(w, memo, f.obj);
  } else if (f.kind === TUPLE) {
    // As CPython's save_tuple: the tuple may have been memoized while its
    // items were written (a cycle through a list); then use that copy.
    const n = f.n;
    const idx = memo.get(f.obj);
    if (idx !== undefined) {
      if (n <= 3) { for (let k = 0; k < n; k++) w.byte(op.POP); }
      else w.byte(op.POP_MARK);
      get(w, idx);
      return;
    }
    w.byte(
      n === 1
        ? op.TUPLE1
        : n === 2
        ? op.TUPLE2
        : n === 3
        ? op.TUPLE3
        : op.TUPLE,
    );
    memoize(w, memo, f.obj);
  }
}

function memoize(w: Writer, memo: Memo, obj: object): void {
  const idx = memo.size;
  memo.set(obj, idx);
  if (idx <= op.MAX_BINPUT) {
    w.bytes2(op.BINPUT, idx);
  } else {
    w.byte(op.LONG_BINPUT);
    w.uint32le(idx);
  }
}

function get(w: Writer, idx: number): void {
  if (idx <= op.MAX_BINPUT) {
    w.bytes2(op.BINGET, idx);
  } else {
    w.byte(op.LONG_BINGET);
    w.uint32le(idx);
  }
}

/**
 * Writes a scalar, or opens a container and pushes its frame.
 * Returns `true` when a frame was pushed.
 */
function put(w: Writer, v: unknown, memo: Memo, stack: Frame[]): boolean {
  switch (typeof v) {
    case "string":
      w.byte(op.BINUNICODE);
      w.lengthPrefixedUtf8(v);
      return false;
    case "number":
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) writeInt(w, v);
      else writeFloat(w, v);
      return false;
    case "boolean":
      w.byte(v ? op.NEWTRUE : op.NEWFALSE);
      return false;
    case "undefined":
      w.byte(op.NONE);
      return false;
    case "bigint":
      if (v >= op.BININT_MIN && v <= op.BININT_MAX) writeInt(w, Number(v));
      else writeLong(w, v);
      return false;
    case "object":
      if (v === null) {
        w.byte(op.NONE);
        return false;
      }
      return putObject(w, v, memo, stack);
    default:
      writeStr(w, safeString(v));
      return false;
  }
}

function putObject(w: Writer, v: object, memo: Memo, stack: Frame[]): boolean {
  const idx = memo.get(v);
  if (idx !== undefined) {
    get(w, idx);
    return false;
  }
  if (Array.isArray(v)) {
    if (isTuple(v)) {
      const n = v.length;
      if (n === 0) {
        w.byte(op.EMPTY_TUPLE);
        return false;
      }
      if (n > 3) w.byte(op.MARK);
      const f = frame(TUPLE, v, v, n);
      f.open = UNBATCHED;
      f.end = n;
      stack.push(f);
      return true;
    }
    w.byte(op.EMPTY_LIST);
    memoize(w, memo, v);
    if (v.length === 0) return false;
    stack.push(frame(LIST, v, v, v.length));
    return true;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) {
    w.byte(op.EMPTY_DICT);
    memoize(w, memo, v);
    const keys = Object.keys(v);
    if (keys.length === 0) return false;
    stack.push(frame(OBJECT, v, keys, keys.length * 2));
    return true;
  }
  if (v instanceof Uint8Array) {
    writeBytes(w, v);
    memoize(w, memo, v);
    return false;
  }
  if (v instanceof Date) {
    writeFloat(w, v.getTime() / 1000);
    return false;
  }
  if (v instanceof Float) {
    writeFloat(w, v.value);
    return false;
  }
  if (v instanceof Map) {
    w.byte(op.EMPTY_DICT);
    memoize(w, memo, v);
    if (v.size === 0) return false;
    const items: unknown[] = [];
    for (const [key, value] of v) items.push(hashable(key, 0), value);
    stack.push(frame(MAP, v, items, items.length));
    return true;
  }
  if (v instanceof Set) {
    w.byte(op.GLOBAL);
    w.ascii(GLOBAL_SET);
    w.byte(op.EMPTY_LIST);
    if (v.size === 0) {
      finish(w, frame(SET, v, [], 0), memo);
      return false;
    }
    const items = Array.from(v, (item) => hashable(item, 0));
    stack.push(frame(SET, v, items, items.length));
    return true;
  }
  if (v instanceof Error) {
    writeStr(w, formatError(v));
    return false;
  }
  writeStr(w, safeString(v));
  return false;
}

/**
 * A value Python can hash, for a dict key or a set item: an array becomes a
 * tuple, a container Python cannot hash becomes its `String()`.
 */
function hashable(v: unknown, depth: number): unknown {
  if (typeof v !== "object" || v === null) return v;
  if (
    v instanceof Uint8Array || v instanceof Date || v instanceof Float ||
    v instanceof Error
  ) return v;
  if (Array.isArray(v) && depth < MAX_KEY_DEPTH) {
    return isTuple(v) ? v : tuple(...v.map((x) => hashable(x, depth + 1)));
  }
  return safeString(v);
}

function writeStr(w: Writer, s: string): void {
  w.byte(op.BINUNICODE);
  w.lengthPrefixedUtf8(s);
}

function writeFloat(w: Writer, n: number): void {
  w.byte(op.BINFLOAT);
  w.float64be(n);
}

/** A safe integer, in the shortest form CPython itself would use. */
function writeInt(w: Writer, n: number): void {
  if (n >= 0 && n < op.BININT1_LIMIT) {
    w.bytes2(op.BININT1, n);
  } else if (n >= 0 && n < op.BININT2_LIMIT) {
    w.byte(op.BININT2);
    w.uint16le(n);
  } else if (n >= op.BININT_MIN && n <= op.BININT_MAX) {
    w.byte(op.BININT);
    w.int32le(n);
  } else {
    writeLong(w, BigInt(n));
  }
}

/** LONG1/LONG4: minimal two's-complement little-endian bytes, as `encode_long`. */
function writeLong(w: Writer, x: bigint): void {
  if (x === 0n) {
    w.bytes2(op.LONG1, 0);
    return;
  }
  const abs = x < 0n ? -x : x;
  const absHex = abs.toString(16);
  const bitLength = (absHex.length - 1) * 4 +
    (32 - Math.clz32(parseInt(absHex[0], 16)));
  let nbytes = (bitLength >> 3) + 1;
  const unsigned = x < 0n ? (1n << BigInt(nbytes * 8)) + x : x;
  const hex = unsigned.toString(16).padStart(nbytes * 2, "0");
  const bytes = new Uint8Array(nbytes);
  for (let i = 0; i < nbytes; i++) {
    const at = hex.length - 2 * (i + 1);
    bytes[i] = parseInt(hex.slice(at, at + 2), 16);
  }
  if (
    x < 0n && nbytes > 1 && bytes[nbytes - 1] === 0xff &&
    (bytes[nbytes - 2] & 0x80) !== 0
  ) {
    nbytes--;
  }
  if (nbytes <= op.LONG1_MAX_BYTES) {
    w.bytes2(op.LONG1, nbytes);
  } else {
    w.byte(op.LONG4);
    w.int32le(nbytes);
  }
  w.raw(bytes.subarray(0, nbytes));
}

/** bytes in CPython's own protocol-2 form: `_codecs.encode(latin1_str, "latin1")`. */
function writeBytes(w: Writer, b: Uint8Array): void {
  w.byte(op.GLOBAL);
  if (b.length === 0) {
    w.ascii(GLOBAL_BYTES);
    w.bytes2(op.EMPTY_TUPLE, op.REDUCE);
    return;
  }
  w.ascii(GLOBAL_CODECS_ENCODE);
  w.byte(op.BINUNICODE);
  let n = b.length;
  for (let i = 0; i < b.length; i++) if (b[i] >= 0x80) n++;
  w.uint32le(n);
  w.ensure(n);
  const buf = w.buf;
  let p = w.pos;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c < 0x80) {
      buf[p++] = c;
    } else {
      buf[p++] = 0xc0 | (c >> 6);
      buf[p++] = 0x80 | (c & 0x3f);
    }
  }
  w.pos = p;
  writeStr(w, LATIN1);
  w.bytes2(op.TUPLE2, op.REDUCE);
}

/**
 * The text of an Error as a traceback-like string: its stack (or name and
 * message when it has none), then each `cause` as `Caused by: ...`.
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

/** `String(v)`, or `[object Tag]` when that throws. */
export function safeString(v: unknown): string {
  try {
    return String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}
