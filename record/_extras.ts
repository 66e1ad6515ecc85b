// Copyright the pysocklog authors. MIT license.
// A record's extra keys (past the standard ones, as makeLogRecord copies
// them) and the one memo their container values share.

import * as op from "../pickle/_opcodes.ts";
import type { Writer } from "../pickle/_writer.ts";
import {
  Memo,
  writeFloat,
  writeScalar,
  writeSmall,
  writeText,
} from "../pickle/encode.ts";
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
