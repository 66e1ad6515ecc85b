// Copyright the pysocklog authors. MIT license.
// Text for the decoder: the parsers of protocol 0's text arguments (INT,
// LONG, FLOAT, STRING, UNICODE, PUT/GET indices), and the str decoding of
// every protocol (UTF-8 with CPython's surrogatepass, latin-1, and a cache
// of short ASCII strings such as record keys).

import { fail } from "./_fail.ts";

/** ASCII strings up to this many bytes (record keys, level names) are cached. */
export const CACHED_STRING_MAX = 32;
/** The string cache has 2^STRING_CACHE_BITS entries, in sets of two. */
const STRING_CACHE_BITS = 12;
const STRING_CACHE_SIZE = 1 << STRING_CACHE_BITS;
/** ASCII strings up to this many bytes are made by String.fromCharCode. */
export const SHORT_STRING_MAX = 64;
/** Digits that always make a safe integer. */
const SAFE_DIGITS = 15;
/** Longest decimal int text read; CPython's own limit is 4,300 digits. */
const MAX_INT_DIGITS = 5_000;
/** Characters converted per String.fromCharCode call. */
const CHUNK = 0x2000;

// The cache: each entry's bytes at entry * CACHED_STRING_MAX in one arena
// (no allocation per entry), its length (0: empty), its hash and its string.
const cacheData = new Uint8Array(STRING_CACHE_SIZE * CACHED_STRING_MAX);
const cacheLength = new Uint8Array(STRING_CACHE_SIZE);
const cacheHash = new Int32Array(STRING_CACHE_SIZE);
const cacheStrings: string[] = new Array(STRING_CACHE_SIZE).fill("");
/** Per set: the way hit or filled last (the other is replaced). */
const cacheRecent = new Uint8Array(STRING_CACHE_SIZE >> 1);
/** Per set: the hash of the last string that missed (admitted when seen again). */
const cacheSeen = new Int32Array(STRING_CACHE_SIZE >> 1);
/** Strings of a pickle whose entry is predicted: the first 64. */
const PREDICT_MASK = 63;
/** The entry the nth string of the last pickle was found in. */
const predicted = new Uint16Array(PREDICT_MASK + 1);
/** Reused argument arrays of String.fromCharCode, one per length. */
const charCodes: number[][] = Array.from(
  { length: SHORT_STRING_MAX + 1 },
  (_, n) => new Array<number>(n).fill(0),
);

/**
 * The same string object for the same short ASCII bytes: record keys and
 * repeated values (logger names, paths, function names) are decoded once,
 * and a key used as a property name is already the string a dict template
 * compares by identity.
 *
 * The hash is FNV-1a over every byte: the earlier one (the length and
 * three sampled bytes) put strings that differ only in digits
 * (`svc14.db`, `svc24.db`; `/srv/app/mod10.py` to `mod24.py`) in one slot,
 * and on varied CPython frames 3.2 of 32 strings per record missed (the
 * ideal: 1.0, the strings seen once), and the cache was 47% of `loads`.
 * A string enters the cache on its second sighting, so that one-off
 * values (request ids, messages) do not evict repeated ones. Sets of two
 * ways, the one used less recently replaced. On those frames: 96.2% hits
 * (96.9% at best), `loads` 6.1 -> 2.0 us a record. Before hashing, the
 * entry the nth string of the last pickle was is compared: 76% of short
 * strings are found so, and `loads` took 1.93 -> 1.85 us.
 *
 * @param b The pickle.
 * @param at Offset of the string.
 * @param n Its length, 1 to {@linkcode CACHED_STRING_MAX}.
 * @param nth Its position among the pickle's strs, or -1 (no prediction).
 * @returns The string, or undefined when the bytes are not all ASCII.
 */
export function cachedAscii(
  b: Uint8Array,
  at: number,
  n: number,
  nth = -1,
): string | undefined {
  if (nth >= 0) {
    // The entry the nth string of the last pickle was: a record's keys
    // come in the same order every time.
    const way = predicted[nth & PREDICT_MASK];
    if (cacheLength[way] === n) {
      const base = way * CACHED_STRING_MAX;
      let i = 0;
      while (i < n && cacheData[base + i] === b[at + i]) i++;
      if (i === n) {
        cacheRecent[way >> 1] = way & 1;
        return cacheStrings[way];
      }
    }
  }
  const h = stringHash(b, at, n);
  const set = h >>> (32 - STRING_CACHE_BITS + 1);
  const first = set << 1;
  for (let way = first; way < first + 2; way++) {
    if (cacheHash[way] !== h || cacheLength[way] !== n) continue;
    const base = way * CACHED_STRING_MAX;
    let i = 0;
    while (i < n && cacheData[base + i] === b[at + i]) i++;
    if (i === n) {
      cacheRecent[set] = way - first;
      if (nth >= 0) predicted[nth & PREDICT_MASK] = way;
      return cacheStrings[way];
    }
  }
  // A miss: the bytes are checked for ASCII as they are copied.
  const codes = charCodes[n];
  let high = 0;
  for (let i = 0; i < n; i++) high |= codes[i] = b[at + i];
  if (high >= 0x80) return undefined;
  const s = String.fromCharCode.apply(null, codes);
  if (cacheSeen[set] !== h) {
    cacheSeen[set] = h;
    return s;
  }
  const way = first + (cacheRecent[set] ^ 1);
  cacheRecent[set] = way - first;
  cacheData.set(b.subarray(at, at + n), way * CACHED_STRING_MAX);
  cacheLength[way] = n;
  cacheHash[way] = h;
  cacheStrings[way] = s;
  if (nth >= 0) predicted[nth & PREDICT_MASK] = way;
  return s;
}

/**
 * The string cache's hash: FNV-1a over every byte and the length, then
 * MurmurHash3's final mix (the set is taken from the top bits, which
 * FNV-1a alone spreads badly: 197 of 1,320 names like `svc14.db` and
 * `/srv/app/mod19.py` found their set full, against 79 at random).
 *
 * @param b The bytes.
 * @param at Offset of the first.
 * @param n How many.
 * @returns The hash, a 32-bit int.
 */
export function stringHash(b: Uint8Array, at: number, n: number): number {
  let h = 0x811c9dc5 ^ n;
  for (let i = at; i < at + n; i++) h = Math.imul(h ^ b[i], 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * A string of bytes below 0x80 (or latin-1), up to
 * {@linkcode SHORT_STRING_MAX} of them: String.fromCharCode on a reused
 * array takes 30-90 ns, on a Uint8Array 50-160 ns.
 *
 * @param b The bytes.
 * @param at Offset of the first.
 * @param n How many.
 * @returns One character per byte.
 */
export function shortString(b: Uint8Array, at: number, n: number): string {
  const codes = charCodes[n];
  for (let i = 0; i < n; i++) codes[i] = b[at + i];
  return String.fromCharCode.apply(null, codes);
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
