// Copyright the pysocklog authors. MIT license.
/**
 * A safe pickle decoder: `loads(bytes)` reads what CPython's
 * `SocketHandler` (protocol 1), `DatagramHandler` and this package's
 * encoder (protocol 2) send, and any data pickle of protocols 0 to 5, and
 * executes nothing.
 *
 * Python's `pickle.loads` imports and calls whatever a pickle names; this
 * decoder never does. A global (`GLOBAL`, `STACK_GLOBAL`) becomes an inert
 * {@linkcode PickleGlobal}; calling or instantiating one (`REDUCE`,
 * `NEWOBJ`, `INST`, `OBJ`, `BUILD`) becomes an inert
 * {@linkcode PickleObject} that names the global and keeps its arguments,
 * so a record with a `datetime` extra is still readable. The few globals
 * CPython's own encoder uses for plain data are read as that data:
 * `_codecs.encode(s, "latin1")` and `bytes`/`bytearray` (bytes), `set` and
 * `frozenset` (a `Set`). With `globals: "reject"`, any other global fails
 * the pickle instead.
 *
 * A dict key `"__proto__"` or `"constructor"` is an own data property like
 * any other: no prototype is ever taken from data. Input size, nesting
 * depth, memo size and the number of items are bounded (see
 * {@linkcode LoadsOptions}); every failure is a {@linkcode PickleDecodeError}.
 *
 * @module
 */

import { tuple } from "./_types.ts";

/** Default {@linkcode LoadsOptions.maxBytes}: 16 MiB. */
export const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;
/** Default {@linkcode LoadsOptions.maxDepth}. */
export const DEFAULT_MAX_DEPTH = 1_000;
/** Default {@linkcode LoadsOptions.maxMemo}. */
export const DEFAULT_MAX_MEMO = 100_000;
/** Default {@linkcode LoadsOptions.maxItems}. */
export const DEFAULT_MAX_ITEMS = 1_000_000;
/** Highest pickle protocol read. */
const HIGHEST_PROTOCOL = 5;
/** ASCII strings up to this many bytes are decoded without TextDecoder. */
const ASCII_FAST_MAX = 1024;
/** ASCII strings up to this many bytes (record keys, level names) are cached. */
const CACHED_STRING_MAX = 32;
/** Slots of the string cache (a power of two). */
const STRING_CACHE_SIZE = 1024;

const cacheBytes: (Uint8Array | undefined)[] = new Array(STRING_CACHE_SIZE);
const cacheStrings: string[] = new Array(STRING_CACHE_SIZE);

/**
 * The same string object for the same short ASCII bytes: record keys and
 * repeated values are decoded once, and a key used as a property name is
 * already internalized.
 */
function cachedAscii(
  b: Uint8Array,
  at: number,
  n: number,
  hash: number,
): string {
  const slot = (hash >>> 0) & (STRING_CACHE_SIZE - 1);
  const known = cacheBytes[slot];
  if (known !== undefined && known.length === n) {
    let same = true;
    for (let i = 0; i < n; i++) {
      if (known[i] !== b[at + i]) {
        same = false;
        break;
      }
    }
    if (same) return cacheStrings[slot];
  }
  const bytes = b.slice(at, at + n);
  const s = String.fromCharCode.apply(null, bytes as unknown as number[]);
  cacheBytes[slot] = bytes;
  cacheStrings[slot] = s;
  return s;
}

/** Options of {@linkcode loads}. */
export interface LoadsOptions {
  /**
   * Longest input accepted, in bytes.
   *
   * @default {16_777_216}
   */
  maxBytes?: number;
  /**
   * Deepest nesting of containers (and of open MARKs) accepted. Deeper
   * input fails, so that code walking the result cannot overflow the stack.
   *
   * @default {1_000}
   */
  maxDepth?: number;
  /**
   * Most memo slots; a memo index at or past it fails.
   *
   * @default {100_000}
   */
  maxMemo?: number;
  /**
   * Most values pushed in all (each item of each container counts), which
   * bounds the memory a pickle can make the decoder allocate.
   *
   * @default {1_000_000}
   */
  maxItems?: number;
  /**
   * What a global that is not plain data becomes: `"inert"` keeps it as a
   * {@linkcode PickleGlobal} (and its calls as {@linkcode PickleObject}s);
   * `"reject"` fails the pickle.
   *
   * @default {"inert"}
   */
  globals?: "inert" | "reject";
}

/**
 * A pickle that cannot be read, or that breaks a limit. `offset` is where
 * the failing opcode starts.
 *
 * @example Catch a bad pickle
 * ```ts
 * import { loads, PickleDecodeError } from "@pysocklog/pysocklog";
 * import { ok } from "node:assert/strict";
 *
 * try {
 *   loads(new Uint8Array([0x80, 2, 0x58, 0xff, 0xff]));
 * } catch (error) {
 *   ok(error instanceof PickleDecodeError);
 * }
 * ```
 */
export class PickleDecodeError extends Error {
  /** Byte offset of the opcode that failed. */
  readonly offset: number;

  /**
   * Makes the error.
   *
   * @param message What is wrong.
   * @param offset Byte offset of the failing opcode.
   * @param options The cause, if any.
   */
  constructor(message: string, offset: number, options?: ErrorOptions) {
    super(`${message} (at byte ${offset})`, options);
    this.name = "PickleDecodeError";
    this.offset = offset;
  }
}

/**
 * A Python global named by a pickle (`module.name`), never imported.
 *
 * @example
 * ```ts
 * import { PickleGlobal } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * equal(String(new PickleGlobal("datetime", "datetime")), "datetime.datetime");
 * ```
 */
export class PickleGlobal {
  /** The module, e.g. `datetime`. */
  readonly module: string;
  /** The name in the module, e.g. `datetime`. */
  readonly name: string;

  /**
   * Names a global.
   *
   * @param module The module.
   * @param name The name in the module.
   */
  constructor(module: string, name: string) {
    this.module = module;
    this.name = name;
  }

  /** `module.name`. */
  toString(): string {
    return `${this.module}.${this.name}`;
  }

  /** `{ "__global__": "module.name" }`, for JSON. */
  toJSON(): { __global__: string } {
    return { __global__: this.toString() };
  }
}

/**
 * An object a pickle would have built by calling a global (`REDUCE`,
 * `NEWOBJ`, `INST`, `OBJ`) and setting its state (`BUILD`). Nothing was
 * called: it only keeps what the pickle said.
 *
 * @example Read a datetime sent by Python, without running Python's code
 * ```ts
 * import { loads, PickleObject } from "@pysocklog/pysocklog";
 * import { equal, ok } from "node:assert/strict";
 *
 * // pickle.dumps(datetime.date(2024, 1, 2), 2)
 * const bytes = new Uint8Array([
 *   0x80, 0x02, 0x63, ...new TextEncoder().encode("datetime\ndate\n"), 0x71, 0x00,
 *   0x63, ...new TextEncoder().encode("_codecs\nencode\n"), 0x71, 0x01,
 *   0x58, 0x05, 0, 0, 0, 0x07, 0xc3, 0xa8, 0x01, 0x02, 0x71, 0x02,
 *   0x58, 0x06, 0, 0, 0, ...new TextEncoder().encode("latin1"), 0x71, 0x03,
 *   0x86, 0x71, 0x04, 0x52, 0x71, 0x05, 0x85, 0x71, 0x06, 0x52, 0x71, 0x07, 0x2e,
 * ]);
 * const value = loads(bytes);
 * ok(value instanceof PickleObject);
 * equal(String(value.global), "datetime.date");
 * equal(value.args[0] instanceof Uint8Array, true);
 * ```
 */
export class PickleObject {
  /** The global that would have been called. */
  readonly global: PickleGlobal;
  /** Its positional arguments. */
  readonly args: unknown[];
  /** Its keyword arguments (`NEWOBJ_EX`), if any. */
  kwargs?: unknown;
  /** The state `BUILD` would have set, if any. */
  state?: unknown;

  /**
   * Records a call that was not made.
   *
   * @param global The global.
   * @param args Its positional arguments.
   */
  constructor(global: PickleGlobal, args: unknown[]) {
    this.global = global;
    this.args = args;
  }

  /** `module.name(...)`. */
  toString(): string {
    return `${this.global}(...)`;
  }

  /** `{ "__global__": "module.name", args, kwargs?, state? }`, for JSON. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {
      __global__: this.global.toString(),
      args: this.args,
    };
    if (this.kwargs !== undefined) out.kwargs = this.kwargs;
    if (this.state !== undefined) out.state = this.state;
    return out;
  }
}

const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
/** ISO-8859-1 (TextDecoder's "latin1" is windows-1252, which is not it). */
function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x2000) {
    s += String.fromCharCode.apply(
      null,
      bytes.subarray(i, i + 0x2000) as unknown as number[],
    );
  }
  return s;
}

/** Thrown inside the loop; turned into a PickleDecodeError with the offset. */
class Fail extends Error {}

function fail(message: string): never {
  throw new Fail(message);
}

/**
 * Decodes a pickle (protocols 0 to 5) without executing anything.
 *
 * Python values become: None `null`; bool `boolean`; int `number` when it
 * is a safe integer, else `bigint`; float `number`; str `string` (lone
 * surrogates kept); bytes and bytearray `Uint8Array`; list `Array`; tuple
 * a frozen `Array` marked as a tuple (`isTuple`); dict a plain object when
 * every key is a str, else a `Map`; set and frozenset `Set`; anything else
 * a {@linkcode PickleGlobal} or {@linkcode PickleObject}. Shared and cyclic
 * references are kept. Bytes after the STOP opcode are ignored, as CPython
 * does.
 *
 * @example Read a record frame's pickle
 * ```ts
 * import { loads, makePickle } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * const frame = makePickle({ name: "app", msg: "hello %s", args: ["deno"] });
 * const record = loads(frame.subarray(4)) as Record<string, unknown>;
 * equal(record.msg, "hello deno");
 * equal(record.name, "app");
 * ```
 *
 * @param bytes The pickle (without a frame's length prefix).
 * @param options Limits and the policy for globals.
 * @returns The value.
 * @throws {PickleDecodeError} When the pickle is malformed, names an
 *   unsupported opcode, or breaks a limit.
 */
export function loads(bytes: Uint8Array, options: LoadsOptions = {}): unknown {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (bytes.length > maxBytes) {
    throw new PickleDecodeError(
      `Pickle of ${bytes.length} bytes exceeds maxBytes (${maxBytes})`,
      0,
    );
  }
  const d = new Decoder(bytes, options);
  let value: unknown;
  try {
    value = d.run();
  } catch (error) {
    if (error instanceof PickleDecodeError) throw error;
    const message = error instanceof Fail
      ? error.message
      : `Malformed pickle: ${error instanceof Error ? error.message : error}`;
    throw new PickleDecodeError(message, d.opStart, { cause: error });
  }
  if (d.objects > 1) checkDepth(value, options.maxDepth ?? DEFAULT_MAX_DEPTH);
  return value;
}

/** Fails when the value nests deeper than `maxDepth` (iteratively; cycles allowed). */
function checkDepth(value: unknown, maxDepth: number): void {
  if (value === null || typeof value !== "object") return;
  // Fast path: a dict or list of scalars (a typical record).
  if (!hasObjectChild(value)) return;
  const seen = new Set<object>([value]);
  const stack: [object, number][] = [[value, 1]];
  const visit = (v: unknown, depth: number) => {
    if (v === null || typeof v !== "object" || seen.has(v)) return;
    if (depth > maxDepth) {
      throw new PickleDecodeError(
        `Value nests deeper than maxDepth (${maxDepth})`,
        0,
      );
    }
    seen.add(v);
    stack.push([v, depth]);
  };
  while (stack.length > 0) {
    const [obj, depth] = stack.pop()!;
    forEachChild(obj, (v) => visit(v, depth + 1));
  }
}

function hasObjectChild(obj: object): boolean {
  if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) {
      const v = obj[i];
      if (v !== null && typeof v === "object") return true;
    }
    return false;
  }
  if (
    obj instanceof Map || obj instanceof Set || obj instanceof PickleObject
  ) return true;
  if (obj instanceof Uint8Array || obj instanceof PickleGlobal) return false;
  const rec = obj as Record<string, unknown>;
  for (const k in rec) {
    const v = rec[k];
    if (v !== null && typeof v === "object") return true;
  }
  // An own "__proto__" data property is not seen by for...in's lookups.
  return Object.hasOwn(obj, "__proto__");
}

function forEachChild(obj: object, fn: (v: unknown) => void): void {
  if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) fn(obj[i]);
  } else if (obj instanceof Map) {
    for (const [k, v] of obj) {
      fn(k);
      fn(v);
    }
  } else if (obj instanceof Set) {
    for (const v of obj) fn(v);
  } else if (obj instanceof PickleObject) {
    fn(obj.args);
    fn(obj.kwargs);
    fn(obj.state);
  } else if (!(obj instanceof Uint8Array || obj instanceof PickleGlobal)) {
    for (const k of Object.keys(obj)) fn((obj as Record<string, unknown>)[k]);
  }
}

const MARK_LIMIT_MESSAGE = "MARKs nest deeper than maxDepth";

class Decoder {
  readonly b: Uint8Array;
  readonly view: DataView;
  pos = 0;
  opStart = 0;
  stack: unknown[] = [];
  readonly metastack: unknown[][] = [];
  readonly memo: unknown[] = [];
  readonly maxDepth: number;
  readonly maxMemo: number;
  readonly rejectGlobals: boolean;
  items: number;
  /** Objects pushed: with more than one, nesting is checked at STOP. */
  objects = 0;
  /** Dicts that became Maps (a non-str key came after their creation). */
  forward: Map<object, Map<unknown, unknown>> | null = null;

  constructor(bytes: Uint8Array, options: LoadsOptions) {
    this.b = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.maxMemo = options.maxMemo ?? DEFAULT_MAX_MEMO;
    this.rejectGlobals = options.globals === "reject";
    this.items = options.maxItems ?? DEFAULT_MAX_ITEMS;
  }

  need(n: number): number {
    const at = this.pos;
    if (n > this.b.length - at) {
      fail(`Truncated pickle: ${n} bytes needed, ${this.b.length - at} left`);
    }
    this.pos = at + n;
    return at;
  }

  push(v: unknown): void {
    if (--this.items < 0) fail("Pickle has more items than maxItems");
    if (typeof v === "object" && v !== null) this.objects++;
    this.stack.push(v);
  }

  pop(): unknown {
    if (this.stack.length === 0) fail("Stack underflow");
    const v = this.stack.pop();
    return this.forward === null ? v : this.swap(v);
  }

  top(): unknown {
    if (this.stack.length === 0) fail("Stack underflow");
    const v = this.stack[this.stack.length - 1];
    return this.forward === null ? v : this.swap(v);
  }

  popMark(): unknown[] {
    const items = this.stack;
    const outer = this.metastack.pop();
    if (outer === undefined) fail("No MARK to pop to");
    this.stack = outer;
    if (this.forward !== null) {
      for (let i = 0; i < items.length; i++) items[i] = this.swap(items[i]);
    }
    return items;
  }

  /** A dict that became a Map since it was pushed is read as the Map. */
  swap(v: unknown): unknown {
    return this.forward!.get(v as object) ?? v;
  }

  /** A text line (protocol 0 argument), without its newline. */
  line(): string {
    const start = this.pos;
    const nl = this.b.indexOf(0x0a, start);
    if (nl < 0) fail("Truncated pickle: a text argument has no newline");
    this.pos = nl + 1;
    return latin1(this.b.subarray(start, nl));
  }

  str(n: number): string {
    const at = this.need(n);
    const b = this.b;
    if (n > ASCII_FAST_MAX) return decodeUtf8(b.subarray(at, at + n));
    let hash = n;
    for (let i = at; i < at + n; i++) {
      const c = b[i];
      if (c >= 0x80) return decodeUtf8(b.subarray(at, at + n));
      hash = Math.imul(hash ^ c, 0x01000193);
    }
    if (n > CACHED_STRING_MAX) {
      return String.fromCharCode.apply(
        null,
        b.subarray(at, at + n) as unknown as number[],
      );
    }
    return cachedAscii(b, at, n, hash);
  }

  bytes(n: number): Uint8Array {
    const at = this.need(n);
    return this.b.slice(at, at + n);
  }

  len8(): number {
    const at = this.need(8);
    const hi = this.view.getUint32(at + 4, true);
    const lo = this.view.getUint32(at, true);
    if (hi > 0x1fffff) fail("Length too large");
    const n = hi * 0x100000000 + lo;
    if (n > this.b.length - this.pos) {
      fail(
        `Truncated pickle: ${n} bytes needed, ${this.b.length - this.pos} left`,
      );
    }
    return n;
  }

  memoPut(index: number): void {
    if (index >= this.maxMemo) {
      fail(`Memo index ${index} is past maxMemo (${this.maxMemo})`);
    }
    this.memo[index] = this.top();
  }

  memoGet(index: number): void {
    if (index >= this.memo.length || !(index in this.memo)) {
      fail(`Memo slot ${index} is empty`);
    }
    const v = this.memo[index];
    this.push(this.forward === null ? v : this.swap(v));
  }

  mark(): void {
    if (this.metastack.length >= this.maxDepth) fail(MARK_LIMIT_MESSAGE);
    this.metastack.push(this.stack);
    this.stack = [];
  }

  /** The live form of a dict (a Map if it was converted). */
  dict(d: unknown): Record<string, unknown> | Map<unknown, unknown> {
    if (this.forward !== null) {
      const m = this.forward.get(d as object);
      if (m !== undefined) return m;
    }
    if (d instanceof Map) return d;
    if (
      d === null || typeof d !== "object" || Array.isArray(d) ||
      Object.getPrototypeOf(d) !== Object.prototype
    ) {
      fail("SETITEM(S) on something that is not a dict");
    }
    return d as Record<string, unknown>;
  }

  setItems(target: unknown, items: unknown[], from: number): void {
    let d = this.dict(target);
    if ((items.length - from) % 2 !== 0) {
      fail("SETITEMS with an odd number of items");
    }
    for (let i = from; i < items.length; i += 2) {
      const k = items[i];
      const v = items[i + 1];
      if (d instanceof Map) {
        d.set(k, v);
      } else if (typeof k === "string") {
        if (k === "__proto__") {
          Object.defineProperty(d, k, {
            value: v,
            writable: true,
            enumerable: true,
            configurable: true,
          });
        } else {
          d[k] = v;
        }
      } else {
        if (k !== null && typeof k === "object" && !isHashable(k)) {
          fail("Unhashable dict key");
        }
        d = this.toMap(target, d);
        d.set(k, v);
      }
    }
  }

  toMap(old: unknown, d: Record<string, unknown>): Map<unknown, unknown> {
    const m = new Map<unknown, unknown>();
    for (const key of Object.keys(d)) m.set(key, d[key]);
    this.forward ??= new Map();
    this.forward.set(old as object, m);
    this.forward.set(d, m);
    return m;
  }

  addItems(target: unknown, items: unknown[]): void {
    if (!(target instanceof Set)) {
      fail("ADDITEMS on something that is not a set");
    }
    for (const v of items) target.add(v);
  }

  append(target: unknown, items: unknown[]): void {
    if (!Array.isArray(target) || Object.isFrozen(target)) {
      if (target instanceof PickleObject) {
        // A list subclass: keep the items with the inert object.
        target.state ??= [];
        if (Array.isArray(target.state)) {
          for (const v of items) target.state.push(v);
          return;
        }
      }
      fail("APPEND(S) on something that is not a list");
    }
    for (const v of items) target.push(v);
  }

  global(module: string, name: string): PickleGlobal {
    const g = new PickleGlobal(module, name);
    if (this.rejectGlobals && !DATA_GLOBALS.has(g.toString())) {
      fail(`Pickle names the global ${g}, which is refused`);
    }
    return g;
  }

  /** A call of `callable` with `args`: data for the known globals, else inert. */
  call(callable: unknown, args: unknown): unknown {
    if (!(callable instanceof PickleGlobal)) {
      fail("Pickle calls something that is not a global");
    }
    if (!Array.isArray(args)) fail("Call arguments are not a tuple");
    const data = callData(callable.toString(), args);
    if (data !== undefined) return data;
    return new PickleObject(callable, [...args]);
  }

  run(): unknown {
    const b = this.b;
    const view = this.view;
    const end = b.length;
    while (true) {
      if (this.pos >= end) fail("Truncated pickle: no STOP opcode");
      this.opStart = this.pos;
      const code = b[this.pos++];
      // Literal case labels: V8 compiles a switch over literals far better
      // than over imported constants (2.5 vs 3.4 us for CPython's record
      // pickle). Each label names its opcode in pickle/_opcodes.ts, and
      // tests/decode_test.ts checks that they agree.
      switch (code) {
        case 0x80: { // PROTO
          const v = b[this.need(1)];
          if (v > HIGHEST_PROTOCOL) fail(`Unsupported pickle protocol ${v}`);
          break;
        }
        case 0x95: // FRAME
          this.len8();
          break;
        case 0x2e: { // STOP
          const value = this.pop();
          if (this.forward !== null) return this.fixForward(value);
          return value;
        }
        case 0x28: // MARK
          this.mark();
          break;
        case 0x30: // POP
          if (this.stack.length > 0) this.stack.pop();
          else this.popMark();
          break;
        case 0x31: // POP_MARK
          this.popMark();
          break;
        case 0x32: // DUP
          this.push(this.top());
          break;
        case 0x4e: // NONE
          this.push(null);
          break;
        case 0x88: // NEWTRUE
          this.push(true);
          break;
        case 0x89: // NEWFALSE
          this.push(false);
          break;
        case 0x4b: // BININT1
          this.push(b[this.need(1)]);
          break;
        case 0x4d: // BININT2
          this.push(view.getUint16(this.need(2), true));
          break;
        case 0x4a: // BININT
          this.push(view.getInt32(this.need(4), true));
          break;
        case 0x8a: { // LONG1
          const n = b[this.need(1)];
          this.push(readLong(b, this.need(n), n));
          break;
        }
        case 0x8b: { // LONG4
          const n = view.getInt32(this.need(4), true);
          if (n < 0) fail("Negative LONG4 length");
          if (n > 10_000) fail("LONG4 of more than 10,000 bytes refused");
          this.push(readLong(b, this.need(n), n));
          break;
        }
        case 0x49: { // INT
          const text = this.line();
          if (text === "01") this.push(true);
          else if (text === "00") this.push(false);
          else this.push(parseIntText(text));
          break;
        }
        case 0x4c: { // LONG
          const text = this.line();
          this.push(
            parseIntText(text.endsWith("L") ? text.slice(0, -1) : text),
          );
          break;
        }
        case 0x47: // BINFLOAT
          this.push(view.getFloat64(this.need(8), false));
          break;
        case 0x46: // FLOAT
          this.push(parseFloatText(this.line()));
          break;
        case 0x58: { // BINUNICODE
          const n = view.getUint32(this.need(4), true);
          this.push(this.str(n));
          break;
        }
        case 0x8c: // SHORT_BINUNICODE
          this.push(this.str(b[this.need(1)]));
          break;
        case 0x8d: // BINUNICODE8
          this.push(this.str(this.len8()));
          break;
        case 0x56: // UNICODE
          this.push(rawUnicodeEscape(this.line()));
          break;
        case 0x55: { // SHORT_BINSTRING
          const n = b[this.need(1)];
          const at = this.need(n);
          this.push(latin1(b.subarray(at, at + n)));
          break;
        }
        case 0x54: { // BINSTRING
          const n = view.getInt32(this.need(4), true);
          if (n < 0) fail("Negative BINSTRING length");
          const at = this.need(n);
          this.push(latin1(b.subarray(at, at + n)));
          break;
        }
        case 0x53: // STRING
          this.push(pythonStringLiteral(this.line()));
          break;
        case 0x43: // SHORT_BINBYTES
          this.push(this.bytes(b[this.need(1)]));
          break;
        case 0x42: // BINBYTES
          this.push(this.bytes(view.getUint32(this.need(4), true)));
          break;
        case 0x8e: // BINBYTES8
        case 0x96: // BYTEARRAY8
          this.push(this.bytes(this.len8()));
          break;
        case 0x5d: // EMPTY_LIST
          this.push([]);
          break;
        case 0x29: // EMPTY_TUPLE
          this.push(tuple());
          break;
        case 0x7d: // EMPTY_DICT
          this.push({});
          break;
        case 0x8f: // EMPTY_SET
          this.push(new Set());
          break;
        case 0x6c: { // LIST
          const items = this.popMark();
          this.push(items);
          break;
        }
        case 0x74: { // TUPLE
          const items = this.popMark();
          this.push(tuple(...items));
          break;
        }
        case 0x85: { // TUPLE1
          const a = this.pop();
          this.push(tuple(a));
          break;
        }
        case 0x86: { // TUPLE2
          const y = this.pop();
          const x = this.pop();
          this.push(tuple(x, y));
          break;
        }
        case 0x87: { // TUPLE3
          const z = this.pop();
          const y = this.pop();
          const x = this.pop();
          this.push(tuple(x, y, z));
          break;
        }
        case 0x64: { // DICT
          const items = this.popMark();
          const d = {};
          this.setItems(d, items, 0);
          this.push(this.forward?.get(d) ?? d);
          break;
        }
        case 0x91: { // FROZENSET
          const items = this.popMark();
          this.push(new Set(items));
          break;
        }
        case 0x61: { // APPEND
          const v = this.pop();
          this.append(this.top(), [v]);
          break;
        }
        case 0x65: { // APPENDS
          const items = this.popMark();
          this.append(this.top(), items);
          break;
        }
        case 0x73: { // SETITEM
          const v = this.pop();
          const k = this.pop();
          this.setItems(this.top(), [k, v], 0);
          break;
        }
        case 0x75: { // SETITEMS
          const items = this.popMark();
          this.setItems(this.top(), items, 0);
          break;
        }
        case 0x90: { // ADDITEMS
          const items = this.popMark();
          this.addItems(this.top(), items);
          break;
        }
        case 0x71: // BINPUT
          this.memoPut(b[this.need(1)]);
          break;
        case 0x72: // LONG_BINPUT
          this.memoPut(view.getUint32(this.need(4), true));
          break;
        case 0x70: // PUT
          this.memoPut(parseIndex(this.line()));
          break;
        case 0x94: // MEMOIZE
          this.memoPut(this.memo.length);
          break;
        case 0x68: // BINGET
          this.memoGet(b[this.need(1)]);
          break;
        case 0x6a: // LONG_BINGET
          this.memoGet(view.getUint32(this.need(4), true));
          break;
        case 0x67: // GET
          this.memoGet(parseIndex(this.line()));
          break;
        case 0x63: { // GLOBAL
          const module = this.line();
          const name = this.line();
          this.push(this.global(module, name));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof name !== "string" || typeof module !== "string") {
            fail("STACK_GLOBAL needs two strs");
          }
          this.push(this.global(module, name));
          break;
        }
        case 0x52: { // REDUCE
          const args = this.pop();
          const callable = this.pop();
          this.push(this.call(callable, args));
          break;
        }
        case 0x81: { // NEWOBJ
          const args = this.pop();
          const cls = this.pop();
          if (!(cls instanceof PickleGlobal) || !Array.isArray(args)) {
            fail("NEWOBJ needs a global and a tuple");
          }
          this.push(new PickleObject(cls, [...args]));
          break;
        }
        case 0x92: { // NEWOBJ_EX
          const kwargs = this.pop();
          const args = this.pop();
          const cls = this.pop();
          if (!(cls instanceof PickleGlobal) || !Array.isArray(args)) {
            fail("NEWOBJ_EX needs a global and a tuple");
          }
          const o = new PickleObject(cls, [...args]);
          o.kwargs = kwargs;
          this.push(o);
          break;
        }
        case 0x69: { // INST
          const module = this.line();
          const name = this.line();
          const args = this.popMark();
          this.push(new PickleObject(this.global(module, name), args));
          break;
        }
        case 0x6f: { // OBJ
          const items = this.popMark();
          const cls = items.shift();
          if (!(cls instanceof PickleGlobal)) fail("OBJ needs a global");
          this.push(new PickleObject(cls, items));
          break;
        }
        case 0x62: { // BUILD
          const state = this.pop();
          const obj = this.top();
          if (!(obj instanceof PickleObject)) {
            fail("BUILD on something that is not an object");
          }
          obj.state = state;
          break;
        }
        case 0x50: // PERSID
        case 0x51: // BINPERSID
          fail("Persistent ids are not supported");
          break;
        case 0x82: // EXT1
        case 0x83: // EXT2
        case 0x84: // EXT4
          fail("Extension codes are not supported");
          break;
        case 0x97: // NEXT_BUFFER
        case 0x98: // READONLY_BUFFER
          fail("Out-of-band buffers are not supported");
          break;
        default:
          fail(`Unknown opcode 0x${code.toString(16).padStart(2, "0")}`);
      }
    }
  }

  /** Replaces dicts that became Maps wherever the old object is referenced. */
  fixForward(value: unknown): unknown {
    const fwd = this.forward!;
    const swap = (v: unknown) => fwd.get(v as object) ?? v;
    const root = swap(value);
    if (root === null || typeof root !== "object") return root;
    const seen = new Set<object>([root]);
    const todo: object[] = [root];
    while (todo.length > 0) {
      const obj = todo.pop()!;
      if (Array.isArray(obj)) {
        const frozen = Object.isFrozen(obj);
        for (let i = 0; i < obj.length; i++) {
          const s = swap(obj[i]);
          if (s !== obj[i] && !frozen) obj[i] = s;
          visit(s);
        }
      } else if (obj instanceof Map) {
        for (const [k, v] of obj) {
          const s = swap(v);
          if (s !== v) obj.set(k, s);
          visit(k);
          visit(s);
        }
      } else if (obj instanceof Set) {
        for (const v of obj) visit(v);
      } else if (obj instanceof PickleObject) {
        visit(obj.args);
        obj.state = swap(obj.state);
        visit(obj.state);
        visit(obj.kwargs);
      } else if (!(obj instanceof Uint8Array || obj instanceof PickleGlobal)) {
        const rec = obj as Record<string, unknown>;
        for (const k of Object.keys(rec)) {
          const s = swap(rec[k]);
          if (s !== rec[k]) {
            Object.defineProperty(rec, k, {
              value: s,
              writable: true,
              enumerable: true,
              configurable: true,
            });
          }
          visit(s);
        }
      }
    }
    return root;

    function visit(v: unknown) {
      if (v !== null && typeof v === "object" && !seen.has(v)) {
        seen.add(v);
        todo.push(v);
      }
    }
  }
}

/** Globals CPython's encoders use for plain data (read as that data). */
const DATA_GLOBALS = new Set([
  "_codecs.encode",
  "__builtin__.bytes",
  "builtins.bytes",
  "__builtin__.bytearray",
  "builtins.bytearray",
  "__builtin__.set",
  "builtins.set",
  "__builtin__.frozenset",
  "builtins.frozenset",
]);

/** The data a call of a data global makes, or undefined to keep it inert. */
function callData(name: string, args: unknown[]): unknown {
  if (!DATA_GLOBALS.has(name)) return undefined;
  switch (name) {
    case "_codecs.encode": {
      const [s, encoding] = args;
      if (
        typeof s === "string" &&
        (encoding === "latin1" || encoding === "latin-1")
      ) {
        return latin1Bytes(s);
      }
      return undefined;
    }
    case "__builtin__.bytes":
    case "builtins.bytes":
    case "__builtin__.bytearray":
    case "builtins.bytearray": {
      if (args.length === 0) return new Uint8Array(0);
      const [v, encoding] = args;
      if (v instanceof Uint8Array) return v.slice();
      if (
        typeof v === "string" &&
        (encoding === "latin1" || encoding === "latin-1")
      ) {
        return latin1Bytes(v);
      }
      if (
        Array.isArray(v) &&
        v.every((x) => typeof x === "number" && x >= 0 && x < 256)
      ) {
        return Uint8Array.from(v as number[]);
      }
      return undefined;
    }
    default: {
      // set, frozenset
      if (args.length === 0) return new Set();
      const [v] = args;
      return Array.isArray(v) ? new Set(v) : undefined;
    }
  }
}

function latin1Bytes(s: string): Uint8Array | undefined {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) return undefined;
    out[i] = c;
  }
  return out;
}

function isHashable(k: object): boolean {
  // Python keys can be tuples, frozensets and inert objects; not lists,
  // dicts or sets.
  return (Array.isArray(k) && Object.isFrozen(k)) ||
    k instanceof PickleObject ||
    k instanceof PickleGlobal || k instanceof Uint8Array;
}

/** Little-endian two's complement int of `n` bytes at `at`. */
function readLong(b: Uint8Array, at: number, n: number): number | bigint {
  if (n === 0) return 0;
  if (n <= 6) {
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + b[at + i];
    if (b[at + n - 1] & 0x80) v -= 2 ** (8 * n);
    return v;
  }
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[at + i]);
  if (b[at + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}

/** Digits that always make a safe integer. */
const SAFE_DIGITS = 15;

function parseIntText(text: string): number | bigint {
  if (text.length <= SAFE_DIGITS && /^-?\d+$/.test(text)) {
    return Number(text) + 0; // no -0
  }
  const t = text.trim();
  if (!/^[+-]?\d+$/.test(t) || t.length > 5000) {
    fail(`Bad int text ${JSON.stringify(text)}`);
  }
  const v = BigInt(t);
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}

function parseFloatText(text: string): number {
  const t = text.trim().toLowerCase();
  if (t === "nan" || t === "+nan" || t === "-nan") return NaN;
  if (t === "inf" || t === "+inf" || t === "infinity") return Infinity;
  if (t === "-inf" || t === "-infinity") return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(t)) {
    fail(`Bad float text ${JSON.stringify(text)}`);
  }
  return Number(t);
}

function parseIndex(text: string): number {
  if (!/^\d{1,10}$/.test(text)) fail(`Bad memo index ${JSON.stringify(text)}`);
  return Number(text);
}

/** Python's `raw-unicode-escape` decoding of a latin-1 line. */
function rawUnicodeEscape(s: string): string {
  return s.replace(
    /\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g,
    (_, u4: string | undefined, u8: string | undefined) => {
      const cp = parseInt(u4 ?? u8!, 16);
      if (cp > 0x10ffff) fail("Bad \\U escape");
      return String.fromCodePoint(cp);
    },
  );
}

const SIMPLE_ESCAPES: Record<string, string> = {
  "\\": "\\",
  "'": "'",
  '"': '"',
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  "\n": "",
};

/** A Python 2 `repr` of a str (the STRING opcode), unquoted and unescaped. */
function pythonStringLiteral(line: string): string {
  const q = line[0];
  if (
    line.length < 2 || (q !== "'" && q !== '"') || line[line.length - 1] !== q
  ) {
    fail("STRING argument is not quoted");
  }
  const body = line.slice(1, -1);
  return body.replace(
    /\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.|\n)/g,
    (all, e: string) => {
      if (e[0] === "x") return String.fromCharCode(parseInt(e.slice(1), 16));
      if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8) & 0xff);
      return SIMPLE_ESCAPES[e] ?? all;
    },
  );
}

/**
 * UTF-8 as CPython's pickle writes it (`surrogatepass`): a lone surrogate
 * (ED A0..BF xx) comes back as that lone surrogate, not U+FFFD.
 */
function decodeUtf8(bytes: Uint8Array): string {
  const ed = bytes.indexOf(0xed);
  if (ed < 0 || !hasSurrogate(bytes, ed)) return utf8.decode(bytes);
  let s = "";
  let start = 0;
  for (let i = ed; i < bytes.length - 2; i++) {
    if (bytes[i] === 0xed && (bytes[i + 1] & 0xe0) === 0xa0) {
      s += utf8.decode(bytes.subarray(start, i));
      s += String.fromCharCode(
        0xd000 | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f),
      );
      i += 2;
      start = i + 1;
    }
  }
  return s + utf8.decode(bytes.subarray(start));
}

function hasSurrogate(bytes: Uint8Array, from: number): boolean {
  for (let i = from; i < bytes.length - 1; i++) {
    if (bytes[i] === 0xed && (bytes[i + 1] & 0xe0) === 0xa0) return true;
  }
  return false;
}
