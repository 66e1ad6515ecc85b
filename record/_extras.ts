// Copyright the pysocklog authors. MIT license.
// A record's extra keys (past the standard ones, as makeLogRecord copies
// them) and the one memo their container values share.

import * as op from "../pickle/_opcodes.ts";
import { utf8Tail, type Writer } from "../pickle/_writer.ts";
import { Memo, writeFloat, writeScalar, writeSmall } from "../pickle/encode.ts";
import { writeInt } from "../pickle/_write_scalar.ts";
import { RECORD_KEY_SET, RECORD_KEYS } from "./_keys.ts";

/** Whether a value is written without the memo (not an object, or null). */
export function isScalar(v: unknown): boolean {
  return typeof v !== "object" || v === null;
}

/** The extra keys of `init`, as makeLogRecord copies them. */
export function writeExtras(
  w: Writer,
  init: Readonly<Record<string, unknown>>,
): boolean {
  let memo: Memo | null = null;
  let n = RECORD_KEYS.length;
  for (const key in init) {
    if (STANDARD_KEY_SET.has(key) || !Object.hasOwn(init, key)) continue;
    if (
      key === "__proto__" || key === "message" || key === "asctime" ||
      isIndexKey(key) || ++n >= op.BATCH_SIZE
    ) {
      // The general path (makeLogRecord refuses message and asctime).
      return false;
    }
    // Memo 0 is the record's dict, which no value here can be.
    memo = writeExtra(w, key, init[key], memo, NOT_A_VALUE);
  }
  releaseMemo(memo);
  return true;
}

/**
 * Writes an extra key and its value. The memo is made for the first value
 * that is a container, with `dict` (the record's dict) as its entry 0.
 * Returns the memo.
 */
export function writeExtra(
  w: Writer,
  key: string,
  v: unknown,
  memo: Memo | null,
  dict: object,
): Memo | null {
  w.cachedStr(key);
  switch (typeof v) {
    case "string":
      writeText(w, v);
      return memo;
    case "number":
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) writeInt(w, v);
      else writeFloat(w, v);
      return memo;
    case "boolean":
      w.byte(v ? op.NEWTRUE : op.NEWFALSE);
      return memo;
    case "object":
      if (v === null) {
        w.byte(op.NONE);
        return memo;
      }
      break;
    default:
      writeScalar(w, v);
      return memo;
  }
  memo ??= takeMemo(dict);
  writeSmall(w, v, memo);
  return memo;
}

/** Most code units writeText copies itself (longer: lengthPrefixedUtf8). */
const MAX_TEXT_UNITS = 256;

/**
 * An extra's str (BINUNICODE): ASCII copied here, the rest from the first
 * other code unit by utf8Tail, long text by Writer.lengthPrefixedUtf8. The
 * extras' scalars have this switch of their own, not the generic writer's
 * `put`, whose type feedback is every value the encoder writes.
 */
function writeText(w: Writer, s: string): void {
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

/** A memo kept for the next record (making one costs about 100 ns). */
let spareMemo: Memo | null = null;

/** A memo whose entry 0 is `dict`. */
export function takeMemo(dict: object): Memo {
  const memo = spareMemo ?? new Memo();
  spareMemo = null;
  memo.add(dict);
  return memo;
}

/** Gives a memo back, emptied (it must not keep the record's values alive). */
export function releaseMemo(memo: Memo | null): void {
  if (memo === null) return;
  memo.clear();
  spareMemo = memo;
}

const STANDARD_KEY_SET = RECORD_KEY_SET;
/** Holds memo 0 (the record's dict) in the memo of writeExtras. */
export const NOT_A_VALUE = {};
/** Largest array index (2^32 - 2). */
const MAX_INDEX = 4_294_967_294;

/** Whether a key is an array index, which objects list before other keys. */
export function isIndexKey(key: string): boolean {
  const c = key.charCodeAt(0);
  if (c < 0x30 || c > 0x39) return false;
  return /^(?:0|[1-9][0-9]*)$/.test(key) && Number(key) <= MAX_INDEX;
}
