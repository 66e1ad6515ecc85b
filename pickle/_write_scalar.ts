// Copyright the pysocklog authors. MIT license.
// The opcodes of one scalar each, in the forms CPython's pickler writes: str
// (BINUNICODE), float (BINFLOAT), int (BININT1/BININT2/BININT, LONG1/LONG4
// past 32 bits, as `encode_long`), bytes (`_codecs.encode`). Which one a
// value takes is chosen by the value walker in encode.ts.

import * as op from "./_opcodes.ts";
import type { Writer } from "./_writer.ts";

const GLOBAL_CODECS_ENCODE = "_codecs\nencode\n";
const GLOBAL_BYTES = "__builtin__\nbytes\n";
const LATIN1 = "latin1";

/** Writes a str (BINUNICODE). */
export function writeStr(w: Writer, s: string): void {
  w.byte(op.BINUNICODE);
  w.lengthPrefixedUtf8(s);
}

/** Writes a float (BINFLOAT), whatever the number. */
export function writeFloat(w: Writer, n: number): void {
  w.byte(op.BINFLOAT);
  w.float64be(n);
}

/** A safe integer, in the shortest form CPython itself would use. */
export function writeInt(w: Writer, n: number): void {
  if (n >= 0 && n < op.BININT1_LIMIT) {
    w.bytes2(op.BININT1, n);
  } else if (n >= 0 && n < op.BININT2_LIMIT) {
    w.byte(op.BININT2);
    w.uint16le(n);
  } else if (n >= op.BININT_MIN && n <= op.BININT_MAX) {
    w.byte(op.BININT);
    w.int32le(n);
  } else {
    writeSafeLong(w, n);
  }
}

/**
 * LONG1/LONG4 of a bigint: minimal two's-complement little-endian bytes, as
 * CPython's `encode_long`. A bigint in the safe range takes the number path.
 */
export function writeLong(w: Writer, x: bigint): void {
  if (x >= -MAX_SAFE_BIG && x <= MAX_SAFE_BIG) {
    writeSafeLong(w, Number(x));
    return;
  }
  // The magnitude's bytes from its hex digits (one string, no BigInt
  // arithmetic: each BigInt operation allocates), then negated in place.
  const neg = x < 0n;
  const hex = (neg ? -x : x).toString(16);
  const digits = hex.length;
  const n = (digits + 1) >> 1;
  const bytes = longScratch.length > n ? longScratch : new Uint8Array(n + 1);
  for (let i = 0; i < n; i++) {
    const at = digits - 2 * i;
    const lo = hexValue(hex.charCodeAt(at - 1));
    const hi = at >= 2 ? hexValue(hex.charCodeAt(at - 2)) : 0;
    bytes[i] = (hi << 4) | lo;
  }
  bytes[n] = 0; // room for the sign
  if (neg) {
    let carry = 1;
    for (let i = 0; i <= n; i++) {
      const b = (~bytes[i] & 0xff) + carry;
      bytes[i] = b & 0xff;
      carry = b >> 8;
    }
  }
  writeLongBytes(w, bytes, minimalLength(bytes, n + 1));
}

/** 2^53 - 1 as a bigint. */
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
const TWO_32 = 2 ** 32;
/** Scratch bytes of writeLong (a long longer than this gets its own). */
const longScratch = new Uint8Array(64);

function hexValue(c: number): number {
  return c <= 0x39 ? c - 0x30 : c - 0x57; // 0-9, a-f
}

/** LONG1 of a safe integer past 32 bits, from its two 32-bit halves. */
function writeSafeLong(w: Writer, n: number): void {
  const hi = Math.floor(n / TWO_32); // exact: |n| < 2^53
  const lo = n - hi * TWO_32; // 0 .. 2^32 - 1
  const bytes = longScratch;
  for (let i = 0, v = lo; i < 4; i++, v = Math.floor(v / 256)) {
    bytes[i] = v & 0xff;
  }
  for (let i = 4, v = hi | 0; i < 8; i++, v >>= 8) bytes[i] = v & 0xff;
  writeLongBytes(w, bytes, minimalLength(bytes, 8));
}

/** Drops the top bytes that only repeat the sign, as `encode_long`. */
function minimalLength(bytes: Uint8Array, n: number): number {
  while (n > 1) {
    const top = bytes[n - 1];
    const sign = bytes[n - 2] & 0x80;
    if ((top === 0 && sign === 0) || (top === 0xff && sign !== 0)) n--;
    else break;
  }
  return n;
}

function writeLongBytes(w: Writer, bytes: Uint8Array, n: number): void {
  if (n <= op.LONG1_MAX_BYTES) {
    w.bytes2(op.LONG1, n);
  } else {
    w.byte(op.LONG4);
    w.int32le(n);
  }
  w.ensure(n);
  const buf = w.buf;
  let p = w.pos;
  for (let i = 0; i < n; i++) buf[p++] = bytes[i];
  w.pos = p;
}

/** bytes in CPython's own protocol-2 form: `_codecs.encode(latin1_str, "latin1")`. */
export function writeBytes(w: Writer, b: Uint8Array): void {
  const len = b.length;
  if (len === 0) {
    w.byte(op.GLOBAL);
    w.ascii(GLOBAL_BYTES);
    w.bytes2(op.EMPTY_TUPLE, op.REDUCE);
    return;
  }
  // The ready head (GLOBAL _codecs encode, BINUNICODE) and tail ("latin1",
  // TUPLE2, REDUCE) around the bytes as Latin-1 text in UTF-8, written in
  // one pass with its length set after (8-32 random bytes as an extra of
  // a record: ~400 -> ~220 ns).
  const head = BYTES_HEAD;
  const tail = BYTES_TAIL;
  w.ensure(head.length + 4 + 2 * len + tail.length);
  const buf = w.buf;
  let p = w.pos;
  for (let i = 0; i < head.length; i++) buf[p++] = head[i];
  const at = p;
  p += 4;
  for (let i = 0; i < len; i++) {
    // Without a branch (random bytes mispredict one in two): both bytes
    // of U+0080..U+00FF always, the second one kept only for those.
    const c = b[i];
    const high = c >> 7; // 1 for 0x80..0xff
    const mask = -high;
    buf[p] = (c & ~mask) | ((0xc0 | (c >> 6)) & mask);
    buf[p + 1] = 0x80 | (c & 0x3f);
    p += 1 + high;
  }
  w.view.setUint32(at, p - at - 4, true);
  for (let i = 0; i < tail.length; i++) buf[p++] = tail[i];
  w.pos = p;
}

/** GLOBAL `_codecs encode`, then BINUNICODE: how bytes start. */
const BYTES_HEAD = new Uint8Array([
  op.GLOBAL,
  ...Array.from(GLOBAL_CODECS_ENCODE, (c) => c.charCodeAt(0)),
  op.BINUNICODE,
]);
/** BINUNICODE `latin1`, TUPLE2, REDUCE: how bytes end. */
const BYTES_TAIL = new Uint8Array([
  op.BINUNICODE,
  LATIN1.length,
  0,
  0,
  0,
  ...Array.from(LATIN1, (c) => c.charCodeAt(0)),
  op.TUPLE2,
  op.REDUCE,
]);
