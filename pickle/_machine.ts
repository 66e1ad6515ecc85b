// Copyright the pysocklog authors. MIT license.
// The decoder's opcode machine: one pass over the pickle, one switch over
// the opcodes of protocols 0 to 5, the stack, the MARK stack and the memo.
// It runs nothing a pickle names: calls become the data or typed forms of
// _stdlib.ts, or the inert objects of _inert.ts. One cohesive job, kept in
// one file although over 600 lines: the switch (about 330 lines) is the
// machine, and splitting it would hide which opcode does what.

import { fail } from "./_fail.ts";
import { PickleGlobal, PickleObject } from "./_inert.ts";
import { readLong } from "./_long.ts";
import { fromShape } from "./_shapes.ts";
import { callForm, isDataGlobal, newForm, PickleSet } from "./_stdlib.ts";
import {
  CACHED_STRING_MAX,
  cachedAscii,
  decodeUtf8,
  latin1,
  parseFloatText,
  parseIndex,
  parseIntText,
  pythonStringLiteral,
  rawUnicodeEscape,
  SHORT_STRING_MAX,
  shortString,
} from "./_text.ts";
import { tuple } from "./_types.ts";
import { fixForward } from "./_walk.ts";

/** Highest pickle protocol read. */
const HIGHEST_PROTOCOL = 5;
/**
 * A fresh dict is kept through at most this many enclosing MARKs (a record
 * holding dicts, lists and tuples); deeper ones are built key by key, so
 * that a memo get checks at most this many.
 */
const FRESH_LEVELS = 8;
/** Decimal digits that always make a safe integer. */
const SAFE_DIGITS = 15;

const MARK_LIMIT_MESSAGE = "MARKs nest deeper than maxDepth";

/** Resolved limits of one decode (see LoadsOptions in decode.ts). */
export interface Limits {
  maxDepth: number;
  maxMemo: number;
  maxItems: number;
  /** Work left after the input's own bytes. */
  work: number;
  rejectGlobals: boolean;
}

/** The state of one decode: `new Decoder(bytes, limits).run()`. */
export class Decoder {
  readonly b: Uint8Array;
  pos = 0;
  opStart = 0;
  stack: unknown[] = [];
  readonly metastack: unknown[][] = [];
  readonly memo: unknown[] = [];
  readonly maxDepth: number;
  readonly maxMemo: number;
  readonly rejectGlobals: boolean;
  items: number;
  /** Work left (see LoadsOptions.maxWork). */
  work: number;
  /** Strs read so far (the string cache predicts by position). */
  strings = 0;
  /** Objects pushed: with more than one, nesting is checked at STOP. */
  objects = 0;
  /** Dicts that became Maps (a non-str key came after their creation). */
  forward: Map<object, Map<unknown, unknown>> | null = null;
  /**
   * The last EMPTY_DICT of this MARK level while nothing but its stack slot
   * and one memo slot refer to it: its first SETITEMS may replace it by a
   * dict made from a template (see _shapes.ts). A memo get or DUP of it
   * (a cycle, a shared reference) ends that.
   */
  fresh: object | null = null;
  /** The memo slot holding `fresh`, or -1. */
  freshMemo = -1;
  /** Plain dicts and lists made from collections' calls (BUILD drops state). */
  plainForms: WeakSet<object> | null = null;
  /** `fresh` and `freshMemo` of the enclosing MARK levels. */
  readonly freshSaved: (object | null)[] = [];
  readonly freshMemoSaved: number[] = [];
  /** Counts `n` units of work (see LoadsOptions.maxWork). */
  charge(n: number): void {
    if ((this.work -= n) < 0) fail("Pickle needs more work than maxWork");
  }

  /** `charge`, bound, for the forms of _stdlib.ts (made only when called). */
  charger(): (n: number) => void {
    return (n) => this.charge(n);
  }

  constructor(bytes: Uint8Array, limits: Limits) {
    this.b = bytes;
    this.maxDepth = limits.maxDepth;
    this.maxMemo = limits.maxMemo;
    this.rejectGlobals = limits.rejectGlobals;
    this.items = limits.maxItems;
    this.work = limits.work;
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
    this.fresh = this.freshSaved.pop() ?? null;
    this.freshMemo = this.freshMemoSaved.pop() ?? -1;
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
    if (n === 0) return "";
    const nth = this.strings++;
    if (n <= CACHED_STRING_MAX) {
      return cachedAscii(b, at, n, nth) ??
        decodeUtf8(b.subarray(at, at + n));
    }
    if (n <= SHORT_STRING_MAX) {
      let high = 0;
      for (let i = at; i < at + n; i++) high |= b[i];
      if (high < 0x80) return shortString(b, at, n);
    }
    // TextDecoder: about 100 ns at any length up to a few hundred bytes.
    return decodeUtf8(b.subarray(at, at + n));
  }

  /**
   * The argument of INT or LONG (`suffix` the `L` LONG may end with): read
   * from the bytes when it is a short decimal, as CPython's own threads ids
   * are (`L140297386408832L`), else parsed from the text.
   */
  intLine(suffix: number): number | bigint | boolean {
    const b = this.b;
    const start = this.pos;
    let i = start;
    const negative = b[i] === 0x2d;
    if (negative) i++;
    let v = 0;
    const first = i;
    while (i < b.length && i - first < SAFE_DIGITS) {
      const c = b[i] - 0x30;
      if (c < 0 || c > 9) break;
      v = v * 10 + c;
      i++;
    }
    if (i > first && b[i] === suffix && suffix !== 0x0a) i++;
    if (i > first && b[i] === 0x0a) {
      this.pos = i + 1;
      if (suffix === 0x0a && i - start === 2 && b[start] === 0x30) {
        if (b[start + 1] === 0x31) return true; // I01
        if (b[start + 1] === 0x30) return false; // I00
      }
      return negative ? -v + 0 : v;
    }
    const text = this.line();
    return parseIntText(
      suffix === 0x4c && text.endsWith("L") ? text.slice(0, -1) : text,
    );
  }

  bytes(n: number): Uint8Array {
    const at = this.need(n);
    return this.b.slice(at, at + n);
  }

  len8(): number {
    const at = this.need(8);
    const hi = uint32(this.b, at + 4);
    const lo = uint32(this.b, at);
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
    const v = this.top();
    if (v === this.fresh) {
      // A second slot would keep the dict a template replaces.
      if (this.freshMemo < 0) this.freshMemo = index;
      else if (this.freshMemo !== index) this.fresh = null;
    }
    this.memo[index] = v;
  }

  memoGet(index: number): void {
    if (index >= this.memo.length || !(index in this.memo)) {
      fail(`Memo slot ${index} is empty`);
    }
    const v = this.memo[index];
    if (typeof v === "object" && v !== null) this.seen(v);

    this.push(this.forward === null ? v : this.swap(v));
  }

  mark(): void {
    const depth = this.metastack.length;
    if (depth >= this.maxDepth) fail(MARK_LIMIT_MESSAGE);
    this.metastack.push(this.stack);
    this.stack = [];
    // The fresh dict waits for its SETITEMS after this MARK's items.
    this.freshSaved.push(depth < FRESH_LEVELS ? this.fresh : null);
    this.freshMemoSaved.push(this.freshMemo);
    this.fresh = null;
  }

  /** A value referred to once more can no longer be replaced. */
  seen(v: unknown): void {
    if (v === this.fresh) this.fresh = null;
    const saved = this.freshSaved;
    const n = saved.length < FRESH_LEVELS ? saved.length : FRESH_LEVELS;
    for (let i = 0; i < n; i++) if (saved[i] === v) saved[i] = null;
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

  /** SETITEMS: a fresh dict whose keys repeat is remade from a template. */
  setItemsTop(items: unknown[]): void {
    const target = this.top();
    if (target === this.fresh) {
      this.fresh = null;
      if (this.forward === null && (items.length & 1) === 0) {
        const made = fromShape(items);
        if (made !== undefined) {
          this.stack[this.stack.length - 1] = made;
          // Unless another value took its slot since.
          const slot = this.freshMemo;
          if (slot >= 0 && this.memo[slot] === target) this.memo[slot] = made;
          return;
        }
      }
    }
    this.setItems(target, items);
  }

  setItems(target: unknown, items: unknown[]): void {
    if (target instanceof PickleObject) {
      // A dict subclass only the sender knows: its items stay with it.
      target.dictitems ??= {};
      const d = this.forward?.get(target.dictitems);
      if (d !== undefined) target.dictitems = d;
      this.setItems(target.dictitems, items);
      const m = this.forward?.get(target.dictitems);
      if (m !== undefined) target.dictitems = m;
      return;
    }
    let d = this.dict(target);
    if (items.length % 2 !== 0) {
      fail("SETITEMS with an odd number of items");
    }
    for (let i = 0; i < items.length; i += 2) {
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
    if (target instanceof PickleObject) {
      // A set subclass only the sender knows: its items stay with it.
      target.listitems ??= [];
      for (const v of items) target.listitems.push(v);
      return;
    }
    if (!(target instanceof PickleSet) || target.frozen) {
      fail("ADDITEMS on something that is not a set");
    }
    for (const v of items) target.add(v);
  }

  append(target: unknown, items: unknown[]): void {
    if (!Array.isArray(target) || Object.isFrozen(target)) {
      if (target instanceof PickleObject) {
        // A list subclass only the sender knows: its items stay with it.
        target.listitems ??= [];
        for (const v of items) target.listitems.push(v);
        return;
      }
      fail("APPEND(S) on something that is not a list");
    }
    for (const v of items) target.push(v);
  }

  global(module: string, name: string): PickleGlobal {
    const g = new PickleGlobal(module, name);
    if (this.rejectGlobals && !isDataGlobal(g)) {
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
    const data = callForm(callable, args, this.charger());
    if (data !== undefined) {
      // OrderedDict, defaultdict, Counter and deque made as a plain dict or
      // list: their attributes (BUILD) have nowhere to go and are dropped.
      if (
        Array.isArray(data) || data instanceof Map ||
        (typeof data === "object" && data !== null &&
          Object.getPrototypeOf(data) === Object.prototype)
      ) (this.plainForms ??= new WeakSet()).add(data);
      return data;
    }
    this.charge(args.length);
    return new PickleObject(callable, [...args]);
  }

  run(): unknown {
    const b = this.b;
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
          if (this.forward !== null) return fixForward(value, this.forward);
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
        case 0x32: { // DUP
          const v = this.top();
          this.seen(v);
          this.push(v);
          break;
        }
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
          this.push(uint16(b, this.need(2)));
          break;
        case 0x4a: // BININT
          this.push(int32(b, this.need(4)));
          break;
        case 0x8a: { // LONG1
          const n = b[this.need(1)];
          this.push(readLong(b, this.need(n), n));
          break;
        }
        case 0x8b: { // LONG4
          const n = int32(b, this.need(4));
          if (n < 0) fail("Negative LONG4 length");
          this.push(readLong(b, this.need(n), n));
          break;
        }
        case 0x49: // INT
          this.push(this.intLine(0x0a));
          break;
        case 0x4c: // LONG
          this.push(this.intLine(0x4c));
          break;
        case 0x47: // BINFLOAT
          this.push(float64(b, this.need(8)));
          break;
        case 0x46: // FLOAT
          this.push(parseFloatText(this.line()));
          break;
        case 0x58: { // BINUNICODE
          const n = uint32(b, this.need(4));
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
          const n = int32(b, this.need(4));
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
          this.push(this.bytes(uint32(b, this.need(4))));
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
        case 0x7d: { // EMPTY_DICT
          const d = {};
          this.fresh = d;
          this.freshMemo = -1;
          this.push(d);
          break;
        }
        case 0x8f: // EMPTY_SET
          this.push(new PickleSet());
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
          const made = this.forward === null ? fromShape(items) : undefined;
          if (made !== undefined) {
            this.push(made);
            break;
          }
          const d = {};
          this.setItems(d, items);
          this.push(this.forward?.get(d) ?? d);
          break;
        }
        case 0x91: { // FROZENSET
          const items = this.popMark();
          this.push(new PickleSet(items, true));
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
          const target = this.top();
          if (target === this.fresh) this.fresh = null;
          this.setItems(target, [k, v]);
          break;
        }
        case 0x75: { // SETITEMS
          const items = this.popMark();
          this.setItemsTop(items);
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
          this.memoPut(uint32(b, this.need(4)));
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
          this.memoGet(uint32(b, this.need(4)));
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
          this.charge(args.length);
          this.push(newForm(cls, [...args]));
          break;
        }
        case 0x92: { // NEWOBJ_EX
          const kwargs = this.pop();
          const args = this.pop();
          const cls = this.pop();
          if (!(cls instanceof PickleGlobal) || !Array.isArray(args)) {
            fail("NEWOBJ_EX needs a global and a tuple");
          }
          this.charge(args.length);
          const o = newForm(cls, [...args]);
          o.kwargs = kwargs;
          this.push(o);
          break;
        }
        case 0x69: { // INST
          const module = this.line();
          const name = this.line();
          const args = this.popMark();
          const g = this.global(module, name);
          this.push(callForm(g, args, this.charger()) ?? newForm(g, args));
          break;
        }
        case 0x6f: { // OBJ
          const items = this.popMark();
          const cls = items.shift();
          if (!(cls instanceof PickleGlobal)) fail("OBJ needs a global");
          this.push(
            callForm(cls, items, this.charger()) ?? newForm(cls, items),
          );
          break;
        }
        case 0x62: { // BUILD
          const state = this.pop();
          const obj = this.top();
          if (obj instanceof PickleObject) obj.state = state;
          // CPython sets no state that is None; a collection read as a
          // plain dict or list has nowhere to keep its attributes.
          else if (state !== null && !this.plainForms?.has(obj as object)) {
            fail("BUILD on something that is not an object");
          }
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
}

// Little-endian ints and big-endian floats read from the bytes: a DataView
// per pickle cost an allocation per record.
function uint16(b: Uint8Array, at: number): number {
  return b[at] | (b[at + 1] << 8);
}

function int32(b: Uint8Array, at: number): number {
  return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24);
}

function uint32(b: Uint8Array, at: number): number {
  return int32(b, at) >>> 0;
}

const floatScratch = new Float64Array(1);
const floatBytes = new Uint8Array(floatScratch.buffer);
/** Whether this machine stores a float's least significant byte first. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function float64(b: Uint8Array, at: number): number {
  if (LITTLE_ENDIAN) {
    for (let i = 0; i < 8; i++) floatBytes[i] = b[at + 7 - i];
  } else {
    for (let i = 0; i < 8; i++) floatBytes[i] = b[at + i];
  }
  return floatScratch[0];
}

function isHashable(k: object): boolean {
  // Python keys can be tuples, frozensets and inert objects; not lists,
  // dicts or sets.
  return (Array.isArray(k) && Object.isFrozen(k)) ||
    k instanceof PickleObject || k instanceof PickleGlobal ||
    k instanceof Uint8Array || (k instanceof PickleSet && k.frozen) ||
    (!(k instanceof Set) && !(k instanceof Map) && !Array.isArray(k) &&
      Object.getPrototypeOf(k) !== Object.prototype);
}
