// Copyright the pysocklog authors. MIT license.
/**
 * Python's `format % args` and `str()`, as `LogRecord.getMessage()` uses
 * them. Pure text: nothing here knows of pickles.
 *
 * @module
 */

import { safeString } from "../util/_error_text.ts";

/**
 * The message of a record, as Python's `LogRecord.getMessage()`: `msg` as a
 * string, %-formatted with `args` when there are any (`"%s took %.1f ms"`
 * with `["GET", 1.25]`; `"%(user)s"` with `{ user: "ann" }`).
 *
 * @example Format a message
 * ```ts
 * import { getMessage } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * equal(getMessage({ msg: "%s took %.1f ms", args: ["GET", 1.25] }), "GET took 1.2 ms");
 * ```
 *
 * @param record A record, or any object with `msg` and `args`.
 * @returns The message text.
 * @throws {TypeError} When the format and the arguments do not match, as Python's `%` does.
 */
export function getMessage(record: { msg?: unknown; args?: unknown }): string {
  const msg = record.msg;
  const text = typeof msg === "string" ? msg : str(msg);
  const args = record.args;
  if (args === null || args === undefined) return text;
  if (Array.isArray(args)) {
    return args.length === 0 ? text : percentFormat(text, args, null);
  }
  if (typeof args === "object" && !(args instanceof Date)) {
    return Object.keys(args).length === 0 && !(args instanceof Map)
      ? text
      : percentFormat(text, null, args as Record<string, unknown>);
  }
  return args === "" || args === 0 || args === false
    ? text
    : percentFormat(text, [args], null);
}

/** Python's `str()` of a value, as near as JavaScript has it. */
export function str(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "string") return v;
  if (typeof v === "number") return pyNumber(v);
  if (typeof v === "bigint") return String(v);
  if (v instanceof Error) return v.message;
  if (typeof v === "object") {
    try {
      return Deno.inspect(v, { depth: 4, colors: false });
    } catch {
      return safeString(v);
    }
  }
  return safeString(v);
}

/**
 * A number as Python shows it: a safe integer as an int, any other number
 * as the float the encoder sends it as (`1e-07`, `1e+16`, `nan`, `-0.0`).
 */
export function pyNumber(v: number): string {
  return Number.isSafeInteger(v) && !Object.is(v, -0) ? String(v) : pyFloat(v);
}

/** Where Python's float repr switches to an exponent (decimal point position). */
const REPR_MAX_POINT = 16;
const REPR_MIN_POINT = -3;

/**
 * Python's `repr()` of a float: the shortest digits that read back (as
 * JavaScript's), with Python's layout: `2.0`, `1e-05`, `1e+16`, `nan`.
 */
export function pyFloat(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  const sign = x < 0 || Object.is(x, -0) ? "-" : "";
  const m = /^(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(Math.abs(x).toExponential())!;
  const digits = m[1] + (m[2] ?? "");
  const exp = Number(m[3]);
  const point = exp + 1; // 0.DIGITS x 10^point
  if (point > REPR_MAX_POINT || point < REPR_MIN_POINT) {
    const e = Math.abs(exp);
    return `${sign}${m[1]}${m[2] ? "." + m[2] : ""}e${exp < 0 ? "-" : "+"}${
      e < 10 ? "0" + e : e
    }`;
  }
  if (point <= 0) return `${sign}0.${"0".repeat(-point)}${digits}`;
  const whole = digits.slice(0, point).padEnd(point, "0");
  return `${sign}${whole}.${digits.slice(point) || "0"}`;
}

const SPEC =
  /%(?:\(([^)]*)\))?([#0\- +]*)(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([diouxXeEfFgGcrsa%])/g;

/** A width or precision given as `*`: taken from the arguments. */
const STAR = -2;
/** No precision given. */
const NO_PRECISION = -1;
/** Most formats kept compiled; past this the cache starts over. */
const MAX_CACHED_FORMATS = 1024;
/** Longer formats are compiled each time (they are seldom repeated). */
const MAX_CACHED_FORMAT_LENGTH = 4096;

/** One `%` conversion of a format. */
interface Conversion {
  /** The `%(key)` name, if any. */
  key: string | undefined;
  flags: string;
  /** Width, 0 when none, or {@linkcode STAR}. */
  width: number;
  /** Precision, {@linkcode NO_PRECISION}, or {@linkcode STAR}. */
  prec: number;
  conv: string;
  /** Positional, without flags, width or `*`: the fast cases apply. */
  plain: boolean;
}

/** A format split once: `text[i]` comes before `conversions[i]`. */
export interface CompiledFormat {
  text: string[];
  conversions: Conversion[];
  /** The UTF-8 of each text piece (made on first use by writeMessage). */
  textBytes: Uint8Array[] | null;
  /** Bytes of all text pieces. */
  textLength: number;
  /** Every conversion is positional, without flags, width or `*`. */
  plain: boolean;
  /** Why Python's `%` would refuse the format (a stray `%`), if it would. */
  error: string | null;
}

const compiled = new Map<string, CompiledFormat>();

/** Splits a format into literal text and conversions (`%%` is text). */
export function compile(format: string): CompiledFormat {
  let c = compiled.get(format);
  if (c !== undefined) return c;
  c = {
    text: [],
    conversions: [],
    textBytes: null,
    textLength: 0,
    plain: true,
    error: null,
  };
  let text = "";
  let last = 0;
  SPEC.lastIndex = 0;
  for (let m = SPEC.exec(format); m !== null; m = SPEC.exec(format)) {
    const gap = format.slice(last, m.index);
    if (c.error === null && gap.includes("%")) {
      c.error = badFormat(format, last + gap.indexOf("%"));
    }
    text += gap;
    last = SPEC.lastIndex;
    const [whole, key, flags, widthSpec, precSpec, conv] = m;
    if (conv === "%" && whole.length > 2 && c.error === null) {
      c.error = `unsupported format character '%' (0x25) at index ${
        m.index + whole.length - 1
      }`;
    }
    if (conv === "%" && key === undefined) {
      text += "%";
      continue;
    }
    const width = widthSpec === "*" ? STAR : widthSpec ? Number(widthSpec) : 0;
    const prec = precSpec === "*"
      ? STAR
      : precSpec
      ? Number(precSpec)
      : NO_PRECISION;
    c.text.push(text);
    text = "";
    c.conversions.push({
      key,
      flags,
      width,
      prec,
      conv,
      // "%.3d" pads with zeros: not the fast path's plain digits.
      plain: key === undefined && flags === "" && width === 0 &&
        prec !== STAR && (prec < 0 || !"diu".includes(conv)),
    });
  }
  const tail = format.slice(last);
  if (c.error === null && tail.includes("%")) {
    c.error = badFormat(format, last + tail.indexOf("%"));
  }
  c.text.push(text + tail);
  c.plain = c.error === null && c.conversions.every((conv) => conv.plain);
  if (format.length <= MAX_CACHED_FORMAT_LENGTH) {
    if (compiled.size >= MAX_CACHED_FORMATS) compiled.clear();
    compiled.set(format, c);
  }
  return c;
}

/**
 * Python's error for a `%` at `at` that starts no conversion: "incomplete
 * format" at the end, else the character it cannot use.
 */
function badFormat(format: string, at: number): string {
  const m = /^%(?:\([^)]*\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+)?)?[hlL]?/
    .exec(format.slice(at))!;
  const i = at + m[0].length;
  if (format[at + 1] === "(" && !format.includes(")", at)) {
    return "incomplete format key";
  }
  if (i >= format.length) return "incomplete format";
  const ch = format.codePointAt(i)!;
  return `unsupported format character '${String.fromCodePoint(ch)}' (0x${
    ch.toString(16)
  }) at index ${i}`;
}

/**
 * Python's `format % args` for the conversions logging messages use. A
 * format is parsed once and kept; the common conversions (`%s` of a
 * string, `%d` of an integer, `%.Nf` of a number) take a short path.
 */
export function percentFormat(
  format: string,
  args: readonly unknown[] | null,
  mapping: Record<string, unknown> | null,
): string {
  const { text, conversions, error } = compile(format);
  if (error !== null) throw new TypeError(error);
  let next = 0;
  const take = (): unknown => {
    if (args === null) {
      // As Python's `"%s" % mapping`: the mapping itself, once.
      if (mapping !== null && next++ === 0) return mapping;
      throw new TypeError("not enough arguments for format string");
    }
    if (next >= args.length) {
      throw new TypeError("not enough arguments for format string");
    }
    return args[next++];
  };
  let out = text[0];
  for (let i = 0; i < conversions.length; i++) {
    const c = conversions[i];
    if (c.plain && args !== null && next < args.length) {
      out += plainConversion(c.conv, args[next++], c.prec) + text[i + 1];
      continue;
    }
    const width = c.width === STAR ? Number(take()) : c.width;
    const prec = c.prec === STAR ? Number(take()) : c.prec;
    let value: unknown;
    if (c.key !== undefined) {
      if (mapping === null) throw new TypeError("format requires a mapping");
      value = mapping instanceof Map ? mapping.get(c.key) : mapping[c.key];
      if (value === undefined && !(c.key in mapping)) {
        throw new TypeError(`KeyError: '${c.key}'`);
      }
      next = 1; // as CPython: no `%s` of the mapping after a `%(key)s`
    } else {
      value = take();
    }
    out += pad(convert(c.conv, value, c.flags, prec), width, c.flags, c.conv) +
      text[i + 1];
  }
  if (args !== null && next < args.length && mapping === null) {
    throw new TypeError("not all arguments converted during string formatting");
  }
  return out;
}

/** A conversion without flags or width: the usual cases first. */
function plainConversion(conv: string, value: unknown, prec: number): string {
  if (isPlainString(conv, value)) {
    return prec >= 0 ? headCodePoints(value, prec) : value;
  }
  if (isPlainInteger(conv, value)) return String(value);
  if (isPlainFixed(conv, value)) {
    const body = fixed(Math.abs(value), prec < 0 ? 6 : prec);
    return value < 0 || Object.is(value, -0) ? "-" + body : body;
  }
  return convert(conv, value, "", prec);
}

/** `%s` of a string: the string itself. */
export function isPlainString(conv: string, value: unknown): value is string {
  return conv === "s" && typeof value === "string";
}

/** `%d` (`%i`, `%u`) of an integer JavaScript prints as Python does. */
export function isPlainInteger(conv: string, value: unknown): value is number {
  return (conv === "d" || conv === "i" || conv === "u") &&
    typeof value === "number" && Number.isSafeInteger(value) &&
    !Object.is(value, -0);
}

/** `%f` (`%F`) of a finite number. */
export function isPlainFixed(conv: string, value: unknown): value is number {
  return (conv === "f" || conv === "F") && typeof value === "number" &&
    Number.isFinite(value);
}

function convert(
  conv: string,
  value: unknown,
  flags: string,
  prec: number,
): string {
  switch (conv) {
    case "s":
    case "r":
    case "a": {
      const s = conv === "s" ? str(value) : repr(value, conv === "a");
      return prec >= 0 ? headCodePoints(s, prec) : s;
    }
    case "c":
      return char(value);
    case "%":
      return "%";
  }
  const n = toNumber(value, conv);
  const sign = (x: number | bigint) =>
    x < 0 || Object.is(x, -0)
      ? "-"
      : flags.includes("+")
      ? "+"
      : flags.includes(" ")
      ? " "
      : "";
  switch (conv) {
    case "d":
    case "i":
    case "u": {
      const i = typeof n === "bigint" ? n : Math.trunc(n) + 0; // int(-0.0) is 0
      // A precision is the fewest digits, as in C ("%.3d" of 7 is "007").
      return sign(i) + digits(i < 0 ? -i : i).padStart(prec, "0");
    }
    case "o":
    case "x":
    case "X": {
      if (typeof n === "number" && !Number.isInteger(n)) {
        throw new TypeError(
          `%${conv} format: an integer is required, not float`,
        );
      }
      const i = typeof n === "bigint" ? n : n + 0; // int(-0.0) is 0
      const radix = conv === "o" ? 8 : 16;
      let digits = (i < 0 ? -i : i).toString(radix).padStart(prec, "0");
      if (conv === "X") digits = digits.toUpperCase();
      const alt = flags.includes("#")
        ? (conv === "o" ? "0o" : conv === "x" ? "0x" : "0X")
        : "";
      return sign(i) + alt + digits;
    }
  }
  const x = Number(n);
  const p = prec < 0 ? 6 : prec;
  if (!Number.isFinite(x)) {
    const t = Number.isNaN(x) ? "nan" : "inf";
    return (x < 0 ? "-" : sign(1)) +
      (conv === conv.toUpperCase() ? t.toUpperCase() : t);
  }
  let body: string;
  const a = Math.abs(x);
  switch (conv) {
    case "f":
    case "F":
      body = fixed(a, p);
      break;
    case "e":
    case "E":
      body = exponential(a, p);
      break;
    default: { // g, G
      const q = p === 0 ? 1 : p;
      const exp = a === 0 ? 0 : Math.floor(Math.log10(a));
      if (exp < -4 || exp >= q) {
        body = exponential(a, q - 1);
      } else {
        body = fixed(a, Math.max(0, q - 1 - exp));
      }
      // Only a fraction's zeros: "100" and "1e+20" keep theirs; with `#`
      // the zeros stay and the point is always written ("100.").
      if (!flags.includes("#")) {
        if (body.includes(".")) body = body.replace(/\.?0+(?=e|$)/, "");
      } else if (!body.includes(".")) body = body.replace(/(?=e|$)/, ".");
    }
  }
  if (conv === "E" || conv === "G") body = body.toUpperCase();
  return sign(x) + body;
}

/** 10^0 to 10^22: the powers of ten a double holds exactly. */
export const POWERS_OF_TEN = Array.from({ length: 23 }, (_, i) => 10 ** i);
/** Scaled values below this are within 2^-22 of exact (2^30 * 2^-52). */
export const EXACT_SCALED = 2 ** 30;
/** How far from .5 a scaled value's fraction must be to be no tie. */
export const TIE_MARGIN = 2 ** -20;
/** Digits JavaScript's toFixed/toExponential can give. */
const MAX_DIGITS = 100;
/** Digits past the precision that tell an exact tie from a near one. */
const TIE_DIGITS = 30;

/**
 * `a.toFixed(p)` with Python's rounding: an exact tie goes to the even
 * digit (JavaScript rounds it up).
 */
export function fixed(a: number, p: number): string {
  // toFixed writes 1e21 and more as "1e+21"; such a double is an integer.
  if (a >= TO_FIXED_LIMIT) {
    return digits(a) + (p > 0 ? "." + "0".repeat(p) : "");
  }
  const s = a.toFixed(p);
  if (p + TIE_DIGITS > MAX_DIGITS) return s;
  if (p < POWERS_OF_TEN.length) {
    // Far from a tie: toFixed's rounding is already Python's. Below
    // EXACT_SCALED the product is off by less than TIE_MARGIN, so a
    // fraction further than that from .5 cannot be an exact tie.
    const scaled = a * POWERS_OF_TEN[p];
    if (
      scaled < EXACT_SCALED &&
      Math.abs(scaled - Math.floor(scaled) - 0.5) > TIE_MARGIN
    ) return s;
  }
  const long = a.toFixed(p + TIE_DIGITS);
  const dot = long.indexOf(".");
  return roundHalfEven(
    s,
    long.slice(0, p === 0 ? dot : dot + 1 + p),
    long.slice(dot + 1 + p),
  );
}

/** Where toFixed and String() of a number switch to exponent notation. */
const TO_FIXED_LIMIT = 1e21;

/** Every decimal digit of a non-negative integer (String() gives "1e+21"). */
function digits(i: number | bigint): string {
  return typeof i === "number" && i >= TO_FIXED_LIMIT
    ? BigInt(i).toString()
    : i.toString();
}

/** `a.toExponential(p)` with Python's rounding and a 2-digit exponent. */
function exponential(a: number, p: number): string {
  let s = a.toExponential(p);
  if (p + TIE_DIGITS <= MAX_DIGITS) {
    const long = a.toExponential(p + TIE_DIGITS);
    const e = long.indexOf("e");
    const cut = p === 0 ? 1 : 2 + p;
    const down = long.slice(0, cut) + long.slice(e);
    s = roundHalfEven(s, down, long.slice(p === 0 ? 2 : cut, e));
  }
  return s.replace(/e([+-])(\d)$/, "e$10$2");
}

/** Picks the rounded-down form when the dropped digits are an exact half and it ends even. */
function roundHalfEven(up: string, down: string, dropped: string): string {
  if (!/^50*$/.test(dropped)) return up;
  const digits = down.replace(/e.*$/, "");
  const last = Number(digits[digits.length - 1]);
  return last % 2 === 0 ? down : up;
}

/** Most code point `%c` takes (Python: `range(0x110000)`). */
const MAX_CODE_POINT = 0x10ffff;

/** `%c`: an int (a bool is one) as its character, or a str of one. */
function char(value: unknown): string {
  if (typeof value === "string" && [...value].length === 1) return value;
  const n = typeof value === "boolean" ? Number(value) : value;
  if (
    (typeof n !== "number" || !Number.isInteger(n)) && typeof n !== "bigint"
  ) throw new TypeError("%c requires int or char");
  if (n < 0 || n > MAX_CODE_POINT) {
    throw new TypeError("%c arg not in range(0x110000)");
  }
  return String.fromCodePoint(Number(n));
}

function toNumber(value: unknown, conv: string): number | bigint {
  if (typeof value === "number" || typeof value === "bigint") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  throw new TypeError(
    `%${conv} format: a real number is required, not ${typeof value}`,
  );
}

function pad(s: string, width: number, flags: string, conv: string): string {
  // Python counts code points: "%5s" of an emoji (2 units) pads to 5.
  const points = s.length < 2 * width ? countCodePoints(s) : width;
  if (points >= width) return s;
  width += s.length - points;
  if (flags.includes("-")) return s.padEnd(width);
  if (flags.includes("0") && !"srac".includes(conv)) {
    const signed = /^[+\- ]/.test(s) ? 1 : 0;
    return s.slice(0, signed) + s.slice(signed).padStart(width - signed, "0");
  }
  return s.padStart(width);
}

/**
 * Python's `repr()` (`ascii()` with `ascii`) of a str: quoted, with what
 * `str.isprintable()` rejects escaped (`\x00`, `\xa0`, `\u200b`, a lone
 * `\ud800`). Other values as {@linkcode str}.
 */
export function repr(v: unknown, ascii = false): string {
  if (typeof v !== "string") return ascii ? escapeNonAscii(str(v)) : str(v);
  const q = v.includes("'") && !v.includes('"') ? '"' : "'";
  let body = "";
  let last = 0;
  NOT_PRINTABLE.lastIndex = 0;
  for (let m = NOT_PRINTABLE.exec(v); m !== null; m = NOT_PRINTABLE.exec(v)) {
    const c = m[0];
    body += v.slice(last, m.index) +
      (c === "\\" || c === q
        ? "\\" + c
        : c === "\n"
        ? "\\n"
        : c === "\r"
        ? "\\r"
        : c === "\t"
        ? "\\t"
        : c === "'" || c === '"'
        ? c
        : escapeCodePoint(c.codePointAt(0)!));
    last = NOT_PRINTABLE.lastIndex;
  }
  const s = q + body + v.slice(last) + q;
  return ascii ? escapeNonAscii(s) : s;
}

/**
 * What Python's str repr escapes: the quotes and backslash, and the code
 * points `str.isprintable()` rejects (other, separator but the space).
 */
const NOT_PRINTABLE =
  /['"\\]|[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]|(?! )\p{Zs}/gu;

/** `\\xNN`, `\\uNNNN` or `\\UNNNNNNNN`, as Python escapes a code point. */
function escapeCodePoint(c: number): string {
  return c < 0x100
    ? "\\x" + c.toString(16).padStart(2, "0")
    : c < 0x10000
    ? "\\u" + c.toString(16).padStart(4, "0")
    : "\\U" + c.toString(16).padStart(8, "0");
}

/** `ascii()`'s step after repr: every code point past ASCII escaped. */
function escapeNonAscii(s: string): string {
  return s.replace(
    /[\u0080-\u{10ffff}]/gu,
    (c) => escapeCodePoint(c.codePointAt(0)!),
  );
}

/** How many code points `s` has (a surrogate pair is one). */
function countCodePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (
      c >= 0xd800 && c <= 0xdbff && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    ) {
      n--;
      i++;
    }
  }
  return n;
}

/** The first `n` code points of `s` (Python slices code points, not UTF-16 units). */
export function headCodePoints(s: string, n: number): string {
  let i = 0;
  for (let k = 0; i < s.length && k < n; k++) {
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length &&
        (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00
      ? 2
      : 1;
  }
  return s.slice(0, i);
}
