// Copyright the pysocklog authors. MIT license.
/**
 * A pure-TypeScript pickle protocol-2 encoder whose output CPython's
 * `pickle.loads` reads: {@linkcode dumps}, and the value walker it shares
 * with the record encoder in record/ (containers on an explicit stack,
 * small ones by recursion). The memo is in _memo.ts, each scalar's opcodes
 * in _write_scalar.ts.
 *
 * @module
 */

import { formatError, safeString } from "../util/_error_text.ts";
import * as op from "./_opcodes.ts";
import {
  isTuple,
  type PickleFloat,
  PickleFloat as Float,
  tuple,
} from "./_types.ts";
import { Memo } from "./_memo.ts";
import { utf8Tail, Writer } from "./_writer.ts";
import {
  writeBytes,
  writeFloat,
  writeInt,
  writeLong,
  writeStr,
} from "./_write_scalar.ts";

export { Memo, writeFloat, writeStr };

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
export const PROTOCOL = 2;
/** Deepest container a dict key or set item is converted through. */
const MAX_KEY_DEPTH = 100;

const GLOBAL_SET = "__builtin__\nset\n";

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
    writeValue(w, value, new Memo());
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

// ---- Writing a pickle in pieces -------------------------------------------
// For writers that lay out a pickle's outer dict themselves (the record
// encoder in record/): each value is written with these, sharing one memo.

/**
 * Writes one value (iteratively: nesting is not bounded by the JS stack),
 * remembering containers in `memo` so later values can refer to them.
 */
export function writeValue(w: Writer, root: unknown, memo: Memo): void {
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
  memo.add(obj);
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
 * tuple (a tuple's items are made hashable too), a container Python cannot
 * hash becomes its `String()`.
 */
function hashable(v: unknown, depth: number): unknown {
  if (typeof v !== "object" || v === null) return v;
  if (
    v instanceof Uint8Array || v instanceof Date || v instanceof Float ||
    v instanceof Error
  ) return v;
  if (Array.isArray(v) && depth < MAX_KEY_DEPTH) {
    const items = v.map((x) => hashable(x, depth + 1));
    // A tuple stays itself (and memoized) unless an item had to change.
    return isTuple(v) && items.every((x, i) => x === v[i])
      ? v
      : tuple(...items);
  }
  return safeString(v);
}

/** Most code units writeText copies itself (longer: lengthPrefixedUtf8). */
const MAX_TEXT_UNITS = 256;

/**
 * A str (BINUNICODE) of a record's extras: ASCII copied here, the rest from
 * the first other code unit by utf8Tail, long text by lengthPrefixedUtf8.
 * The extras' scalars (writeSmall, record/_extras.ts) have switches of
 * their own, not `put`, whose type feedback is every value the encoder
 * writes (the corpus: ~3-5% less CPU a record).
 */
export function writeText(w: Writer, s: string): void {
  const len = s.length;
  if (len > MAX_TEXT_UNITS) {
    w.byte(op.BINUNICODE);
    w.lengthPrefixedUtf8(s);
    return;
  }
  w.ensure(5 + 3 * len);
  const buf = w.buf;
  const start = w.pos;
  let p = start + 5;
  let i = 0;
  for (; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) break;
    buf[p++] = c;
  }
  if (i < len) p = utf8Tail(buf, s, i, p);
  const n = p - start - 5;
  buf[start] = op.BINUNICODE;
  buf[start + 1] = n & 0xff;
  buf[start + 2] = (n >>> 8) & 0xff;
  buf[start + 3] = 0;
  buf[start + 4] = 0;
  w.pos = p;
}

/** Deepest nesting writeSmall recurses to before it hands over to writeValue. */
const MAX_SMALL_DEPTH = 8;

/**
 * Writes one value, as {@linkcode writeValue} does, byte for byte; faster
 * for small lists, plain objects and Maps: it recurses (to
 * {@linkcode MAX_SMALL_DEPTH}) instead of keeping frames on a stack of its
 * own (a 4-key object with a list inside: ~570 -> ~440 ns). Anything else,
 * deeper or larger, goes to writeValue, sharing the memo.
 */
export function writeSmall(
  w: Writer,
  v: unknown,
  memo: Memo,
  depth = 0,
): void {
  switch (typeof v) {
    case "string":
      writeText(w, v);
      return;
    case "number":
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) writeInt(w, v);
      else writeFloat(w, v);
      return;
    case "boolean":
      w.byte(v ? op.NEWTRUE : op.NEWFALSE);
      return;
    case "object":
      if (v === null) {
        w.byte(op.NONE);
        return;
      }
      break;
    default:
      put(w, v, memo, NO_STACK);
      return;
  }
  const idx = memo.get(v);
  if (idx !== undefined) {
    get(w, idx);
    return;
  }
  if (depth >= MAX_SMALL_DEPTH) {
    writeValue(w, v, memo);
    return;
  }
  if (Array.isArray(v)) {
    const n = v.length;
    if (n > op.BATCH_SIZE || (Object.isFrozen(v) && isTuple(v))) {
      writeValue(w, v, memo);
      return;
    }
    w.byte(op.EMPTY_LIST);
    memoize(w, memo, v);
    if (n === 0) return;
    if (n > 1) w.byte(op.MARK);
    for (let i = 0; i < n; i++) writeSmall(w, v[i], memo, depth + 1);
    w.byte(n > 1 ? op.APPENDS : op.APPEND);
    return;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) {
    const keys = Object.keys(v);
    const n = keys.length;
    if (n > op.BATCH_SIZE) {
      writeValue(w, v, memo);
      return;
    }
    w.byte(op.EMPTY_DICT);
    memoize(w, memo, v);
    if (n === 0) return;
    if (n > 1) w.byte(op.MARK);
    const o = v as Record<string, unknown>;
    for (let i = 0; i < n; i++) {
      const key = keys[i];
      // Keys repeat from record to record: their ready bytes.
      w.cachedStr(key);
      writeSmall(w, o[key], memo, depth + 1);
    }
    w.byte(n > 1 ? op.SETITEMS : op.SETITEM);
    return;
  }
  if (v instanceof Date) {
    writeFloat(w, v.getTime() / 1000);
    return;
  }
  if (v instanceof Uint8Array) {
    writeBytes(w, v);
    memoize(w, memo, v);
    return;
  }
  if (v instanceof Map && v.size <= op.BATCH_SIZE) {
    // Keys that are objects are made hashable by writeValue's path.
    for (const key of v.keys()) {
      if (typeof key === "object" && key !== null) {
        writeValue(w, v, memo);
        return;
      }
    }
    const n = v.size;
    w.byte(op.EMPTY_DICT);
    memoize(w, memo, v);
    if (n === 0) return;
    if (n > 1) w.byte(op.MARK);
    for (const [key, x] of v) {
      put(w, key, memo, NO_STACK);
      writeSmall(w, x, memo, depth + 1);
    }
    w.byte(n > 1 ? op.SETITEMS : op.SETITEM);
    return;
  }
  writeValue(w, v, memo);
}

/**
 * Writes a value that is not an object (or is null): never touches a memo.
 */
export function writeScalar(w: Writer, v: unknown): void {
  put(w, v, EMPTY_MEMO, NO_STACK);
}

/** Scalars never touch the memo or the stack: these stay empty. */
const EMPTY_MEMO: Memo = new Memo();
const NO_STACK: Frame[] = [];
