// Copyright the pysocklog authors. MIT license.
// Text for the decoder: the parsers of protocol 0's text arguments (INT,
// LONG, FLOAT, STRING, UNICODE, PUT/GET indices), and the str decoding of
// every protocol (UTF-8 with CPython's surrogatepass, latin-1, and a cache
// of short ASCII strings such as record keys).

import { fail } from "./_fail.ts";

/** ASCII strings up to this many bytes (record keys, level names) are cached. */
export const CACHED_STRING_MAX = 32;
/** The string cache has 2^STRING_CACHE_BITS slots. */
const STRING_CACHE_BITS = 11;
const STRING_CACHE_SIZE = 1 << STRING_CACHE_BITS;
/** Digits that always make a safe integer. */
const SAFE_DIGITS = 15;
/** Longest decimal int text read; CPython's own limit is 4,300 digits. */
const MAX_INT_DIGITS = 5_000;
/** Characters converted per String.fromCharCode call. */
const CHUNK = 0x2000;

const cacheBytes: (Uint8Array | undefined)[] = new Array(STRING_CACHE_SIZE);
const cacheStrings: string[] = new Array(STRING_CACHE_SIZE);
let replaced = 0;

/**
 * The same string object for the same short ASCII bytes: record keys and
 * repeated values are decoded once, and a key used as a property name is
 * already the string a dict template compares by identity. The slot comes
 * from the length and three sampled bytes, and one pass compares: hashing
 * every byte first cost as much again (str + cache were 34% of `loads`).
 * Two ways per slot: one collision between two keys of a record (`size`
 * and `threadName` shared a slot of the one-way cache) made a new string
 * each frame and cost 1.5-1.9x on such a record's `loads`.
 *
 * @param b The pickle.
 * @param at Offset of the string.
 * @param n Its length, 1 to {@linkcode CACHED_STRING_MAX}.
 * @returns The string, or undefined when the bytes are not all ASCII.
 */
export function cachedAscii(
  b: Uint8Array,
  at: number,
  n: number,
): string | undefined {
  const end = at + n;
  const sample = b[at] | (b[at + (n >> 1)] << 8) | (b[end - 1] << 16) |
    (n << 24);
  // Two ways: the slot and its neighbour.
  const slot = (Math.imul(sample, 0x9e3779b1) >>> (32 - STRING_CACHE_BITS)) &
    ~1;
  for (let way = slot; way < slot + 2; way++) {
    const known = cacheBytes[way];
    if (known === undefined || known.length !== n) continue;
    let i = 0;
    while (i < n && known[i] === b[at + i]) i++;
    if (i === n) return cacheStrings[way];
  }
  for (let i = at; i < end; i++) if (b[i] >= 0x80) return undefined;
  const bytes = b.slice(at, end);
  const s = String.fromCharCode.apply(null, bytes as unknown as number[]);
  // Fill an empty way, else replace the two in turn.
  const way = cacheBytes[slot] === undefined
    ? slot
    : cacheBytes[slot + 1] === undefined
    ? slot + 1
    : slot + (replaced ^= 1);
  cacheBytes[way] = bytes;
  cacheStrings[way] = s;
  return s;
}

const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * ISO-8859-1 (TextDecoder's "latin1" is windows-1252, which is not it).
 *
 * @param bytes The bytes.
 * @returns One character per byte.
 */
export function latin1(bytes: Uint8Array): string {
  if (bytes.length <= CHUNK) {
    return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  let s = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    s += String.fromCharCode.apply(
      null,
      bytes.subarray(i, i + CHUNK) as unknown as number[],
    );
  }
  return s;
}

/**
 * The bytes of a str of code points below 256, or undefined.
 *
 * @param s The str.
 * @returns Its latin-1 bytes.
 */
export function latin1Bytes(s: string): Uint8Array | undefined {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) return undefined;
    out[i] = c;
  }
  return out;
}

/**
 * UTF-8 as CPython's pickle writes it (`surrogatepass`): a lone surrogate
 * (ED A0..BF xx) comes back as that lone surrogate, not U+FFFD.
 *
 * @param bytes The UTF-8.
 * @returns The str.
 */
export function decodeUtf8(bytes: Uint8Array): string {
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

/**
 * The argument of INT and LONG: a decimal int.
 *
 * @param text The line.
 * @returns The int: a number when safe, else a bigint.
 */
export function parseIntText(text: string): number | bigint {
  if (text.length <= SAFE_DIGITS && /^-?\d+$/.test(text)) {
    return Number(text) + 0; // no -0
  }
  const t = text.trim();
  if (!/^[+-]?\d+$/.test(t) || t.length > MAX_INT_DIGITS) {
    fail(`Bad int text ${JSON.stringify(text.slice(0, 40))}`);
  }
  const v = BigInt(t);
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}

/**
 * The argument of FLOAT: Python's `repr` of a float.
 *
 * @param text The line.
 * @returns The number.
 */
export function parseFloatText(text: string): number {
  const t = text.trim().toLowerCase();
  if (t === "nan" || t === "+nan" || t === "-nan") return NaN;
  if (t === "inf" || t === "+inf" || t === "infinity") return Infinity;
  if (t === "-inf" || t === "-infinity") return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(t)) {
    fail(`Bad float text ${JSON.stringify(text.slice(0, 40))}`);
  }
  return Number(t);
}

/**
 * The argument of PUT and GET: a memo index.
 *
 * @param text The line.
 * @returns The index.
 */
export function parseIndex(text: string): number {
  if (!/^\d{1,10}$/.test(text)) {
    fail(`Bad memo index ${JSON.stringify(text.slice(0, 40))}`);
  }
  return Number(text);
}

/**
 * Python's `raw-unicode-escape` decoding of a latin-1 line (UNICODE).
 *
 * @param s The line.
 * @returns The str.
 */
export function rawUnicodeEscape(s: string): string {
  if (s.indexOf("\\") < 0) return s;
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
};

/**
 * The argument of STRING: a Python 2 `repr` of a str, unquoted and
 * unescaped as CPython's `codecs.escape_decode` does. A trailing backslash
 * (`S'\'`) and a `\x` without two hex digits fail, as in CPython; an
 * unknown escape stays as written.
 *
 * @param line The line.
 * @returns The str (one character per byte).
 */
export function pythonStringLiteral(line: string): string {
  const q = line[0];
  if (
    line.length < 2 || (q !== "'" && q !== '"') || line[line.length - 1] !== q
  ) {
    fail("STRING argument is not quoted");
  }
  const body = line.slice(1, -1);
  if (body.indexOf("\\") < 0) return body;
  let out = "";
  let i = 0;
  while (i < body.length) {
    const slash = body.indexOf("\\", i);
    if (slash < 0) {
      out += body.slice(i);
      break;
    }
    out += body.slice(i, slash);
    if (slash + 1 >= body.length) fail("Trailing \\ in STRING argument");
    const e = body[slash + 1];
    i = slash + 2;
    if (e === "x") {
      const h = body.slice(i, i + 2);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) {
        fail(`Invalid \\x escape at position ${slash} of a STRING argument`);
      }
      out += String.fromCharCode(parseInt(h, 16));
      i += 2;
    } else if (e >= "0" && e <= "7") {
      let j = i;
      while (j < i + 2 && j < body.length && body[j] >= "0" && body[j] <= "7") {
        j++;
      }
      out += String.fromCharCode(parseInt(body.slice(i - 1, j), 8) & 0xff);
      i = j;
    } else {
      out += SIMPLE_ESCAPES[e] ?? "\\" + e;
    }
  }
  return out;
}
