// Copyright the pysocklog authors. MIT license.
/**
 * A record's message written straight into a pickle: the same text as
 * {@linkcode getMessage}, as UTF-8 bytes without making the string for the
 * usual formats (585 -> 95 ns for `%s`/`%d`/`%.Nf` formats).
 *
 * @module
 */

import { BINUNICODE } from "../pickle/_opcodes.ts";
import { utf8Tail, Writer } from "../pickle/_writer.ts";
import {
  compile,
  type CompiledFormat,
  EXACT_SCALED,
  fixed,
  getMessage,
  headCodePoints,
  isPlainFixed,
  isPlainInteger,
  isPlainString,
  POWERS_OF_TEN,
  TIE_MARGIN,
} from "./percent.ts";

/** Most UTF-8 bytes of `%d` of a safe integer or `%.Nf` before its digits. */
const MAX_NUMBER_BYTES = 32;
/** Most digits after the point `%.Nf` takes the short path for. */
const MAX_FAST_PRECISION = 20;

/**
 * Writes a record's message as a pickle BINUNICODE string: the same text
 * as {@linkcode getMessage}, but for the usual message (a format whose
 * conversions are plain `%s` of strings, `%d` of integers and `%.Nf` of
 * numbers) written as UTF-8 straight away, without making the string.
 *
 * @param w The writer.
 * @param record An object with `msg` and `args`.
 * @throws {TypeError} When the format and the arguments do not match.
 */
export function writeMessage(
  w: Writer,
  record: { msg?: unknown; args?: unknown },
): void {
  const msg = record.msg;
  const args = record.args;
  if (typeof msg === "string" && Array.isArray(args) && args.length > 0) {
    const c = compile(msg);
    if (
      c.plain && c.conversions.length === args.length &&
      writePlain(w, c, args)
    ) return;
  }
  writeText(w, getMessage(record));
}

/** Most code units writeText copies itself (longer text: lengthPrefixedUtf8). */
const MAX_TEXT_UNITS = 256;

/**
 * A BINUNICODE str: ASCII text copied here, anything else by the Writer.
 * Writer.lengthPrefixedUtf8 and utf8At, inlined here by V8 with the type
 * feedback of every string the encoder writes (CJK, long, lone
 * surrogates), made a 44-character message ~4x slower once the varied
 * corpus had run (one record encoded after it, with writePlain doing the
 * same for %s: 0.77 -> 0.50 µs). Not pickle/encode.ts's writeText either,
 * which extras' strings train: with it, one partial record again and again
 * went from 1.58-1.73x the C pickler to 1.07-1.37x (bench:makepickle, two
 * runs each, alternated).
 */
function writeText(w: Writer, s: string): void {
  const len = s.length;
  if (len <= MAX_TEXT_UNITS) {
    w.ensure(5 + len);
    const buf = w.buf;
    const start = w.pos;
    let p = start + 5;
    let i = 0;
    for (; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[p++] = c;
    }
    if (i === len) {
      buf[start] = BINUNICODE;
      buf[start + 1] = len & 0xff;
      buf[start + 2] = len >>> 8;
      buf[start + 3] = 0;
      buf[start + 4] = 0;
      w.pos = p;
      return;
    }
  }
  w.byte(BINUNICODE);
  w.lengthPrefixedUtf8(s);
}

/** writePlain's work; false (nothing written) when a value needs the general path. */
function writePlain(
  w: Writer,
  c: CompiledFormat,
  args: readonly unknown[],
): boolean {
  const texts = c.textBytes ?? encodeTexts(c);
  let bound = 5 + c.textLength;
  for (let i = 0; i < args.length; i++) {
    const v = args[i];
    if (typeof v === "string") bound += v.length * 3;
    else if (typeof v === "number") {
      bound += MAX_NUMBER_BYTES + c.conversions[i].prec;
    } else return false;
  }
  w.ensure(bound);
  const buf = w.buf;
  const start = w.pos;
  let p = copyBytes(buf, start + 5, texts[0]);
  for (let i = 0; i < args.length; i++) {
    const { conv, prec } = c.conversions[i];
    const v = args[i];
    if (isPlainString(conv, v)) {
      const t = prec >= 0 ? headCodePoints(v, prec) : v;
      // ASCII here, the rest by utf8Tail (not Writer.utf8At: see writeText).
      const n = t.length;
      let k = 0;
      for (; k < n; k++) {
        const ch = t.charCodeAt(k);
        if (ch >= 0x80) break;
        buf[p++] = ch;
      }
      if (k < n) p = utf8Tail(buf, t, k, p);
    } else if (isPlainInteger(conv, v)) {
      if (v < 0) buf[p++] = MINUS;
      p = writeDigits(buf, p, v < 0 ? -v : v);
    } else if (
      isPlainFixed(conv, v) && prec <= MAX_FAST_PRECISION &&
      Math.abs(v) < FIXED_LIMIT
    ) {
      if (v < 0 || Object.is(v, -0)) buf[p++] = MINUS;
      p = writeFixed(buf, p, Math.abs(v), prec < 0 ? 6 : prec);
    } else {
      return false;
    }
    p = copyBytes(buf, p, texts[i + 1]);
  }
  const n = p - start - 5;
  buf[start] = BINUNICODE;
  buf[start + 1] = n & 0xff;
  buf[start + 2] = (n >>> 8) & 0xff;
  buf[start + 3] = (n >>> 16) & 0xff;
  buf[start + 4] = n >>> 24;
  w.pos = p;
  return true;
}

/** toFixed gives plain digits below 10^21; the short path stays below. */
const FIXED_LIMIT = 1e21;
const MINUS = 0x2d;

/** Where encodeTexts writes each text before copying it out (a Writer each cost ~300 ns). */
let textWriter = new Writer(1024);

function encodeTexts(c: CompiledFormat): Uint8Array[] {
  c.textBytes = c.text.map((t) => {
    if (textWriter.buf.length < t.length * 3) {
      textWriter = new Writer(t.length * 3);
    }
    return textWriter.buf.slice(0, textWriter.utf8At(t, 0));
  });
  c.textLength = c.textBytes.reduce((n, b) => n + b.length, 0);
  return c.textBytes;
}

/**
 * The digits of {@linkcode fixed}`(a, prec)`, written: computed in integers
 * when `a * 10^prec` is small and far from a tie, else from the string.
 */
function writeFixed(
  buf: Uint8Array,
  p: number,
  a: number,
  prec: number,
): number {
  if (prec < POWERS_OF_TEN.length) {
    const pow = POWERS_OF_TEN[prec];
    const scaled = a * pow;
    if (
      scaled < EXACT_SCALED &&
      Math.abs(scaled - Math.floor(scaled) - 0.5) > TIE_MARGIN
    ) {
      // Below 2^30: integer arithmetic (`| 0`) is exact.
      const rounded = Math.round(scaled) | 0;
      const whole = pow > rounded ? 0 : (rounded / pow) | 0;
      p = writeDigits(buf, p, whole);
      if (prec > 0) {
        buf[p++] = DOT;
        let part = rounded - whole * pow;
        for (let i = p + prec - 1; i >= p; i--) {
          const q = (part / 10) | 0;
          buf[i] = ZERO + part - q * 10;
          part = q;
        }
        p += prec;
      }
      return p;
    }
  }
  return writeAscii(buf, p, fixed(a, prec));
}

/** Writes a non-negative integer below 2^53 in decimal. */
function writeDigits(buf: Uint8Array, p: number, n: number): number {
  if (n > MAX_INT32) return writeAscii(buf, p, String(n));
  let digits = 1;
  while (digits < 10 && n >= POWERS_OF_TEN[digits]) digits++;
  for (let i = p + digits - 1; i >= p; i--) {
    const q = (n / 10) | 0;
    buf[i] = ZERO + n - q * 10;
    n = q;
  }
  return p + digits;
}

const MAX_INT32 = 2 ** 31 - 1;

const DOT = 0x2e;
const ZERO = 0x30;

function copyBytes(buf: Uint8Array, p: number, bytes: Uint8Array): number {
  const n = bytes.length;
  for (let i = 0; i < n; i++) buf[p++] = bytes[i];
  return p;
}

function writeAscii(buf: Uint8Array, p: number, s: string): number {
  const n = s.length;
  for (let i = 0; i < n; i++) buf[p++] = s.charCodeAt(i);
  return p;
}
