// Copyright the pysocklog authors. MIT license.
// A received record as one line of JSON or of text (Python's
// logging.Formatter %-style format, through the project's %-formatter),
// within the per-record budget of _render.ts.

import { percentFormat, pyFloat } from "../record/percent.ts";
import { RECORD_KEYS } from "../record/_keys.ts";
import { getLevelName } from "../record/levels.ts";
import { intText, Renderer } from "./_render.ts";
import { PickleDateTime, PickleTimedelta } from "../pickle/decode.ts";

/** The human format when none is given; extras follow it as `key=value`. */
export const DEFAULT_FORMAT =
  "%(asctime)s %(levelname)-8s %(name)s: %(message)s";

/** Keys that are not extras: CPython's LogRecord, and what Formatter adds. */
const STANDARD_KEYS = new Set<string>([...RECORD_KEYS, "message", "asctime"]);

/** One conversion of a %-format: its key and its spec without the key. */
interface Field {
  key: string;
  /** e.g. `%-8s`, `%5.1f`. */
  spec: string;
  /** The same with `s` as the conversion: the fallback for mismatched values. */
  textSpec: string;
}

/** A --format string split once into literal text and fields. */
export interface LineFormat {
  /** The format as given. */
  source: string;
  parts: (string | Field)[];
}

/** Python's %-style conversion grammar (as in _percent.ts), sticky. */
const CONVERSION =
  /%(?:\(([^)]*)\))?([#0\- +]*)(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([diouxXeEfFgGcrsa%])?/y;

/**
 * Splits a Python `logging.Formatter` %-style format (`%(name)s`, with
 * flags, width and precision) into text and fields.
 *
 * @throws {RangeError} With a one-line reason, when Python's Formatter
 *   would reject it too (no `%(key)` field, a bad conversion, a positional
 *   `%s`) or a width passes `maxChars`.
 */
export function compileFormat(format: string, maxChars: number): LineFormat {
  const parts: (string | Field)[] = [];
  let text = "";
  let last = 0;
  let fields = 0;
  for (let i = format.indexOf("%"); i >= 0; i = format.indexOf("%", last)) {
    text += format.slice(last, i);
    CONVERSION.lastIndex = i;
    const m = CONVERSION.exec(format)!;
    const [whole, key, , width, prec, conv] = m;
    last = i + whole.length;
    if (conv === undefined) {
      const bad = format.slice(i, last + 1);
      throw new RangeError(
        last >= format.length
          ? `incomplete format at index ${i} ('${bad}')`
          : `unsupported format character '${format[last]}' at index ${last}`,
      );
    }
    if (conv === "%" && key === undefined) {
      text += "%";
      continue;
    }
    if (key === undefined) {
      throw new RangeError(
        `use %(key)${conv} fields, as Python's '%' style does, not '${whole}'`,
      );
    }
    if (width === "*" || prec === "*") {
      throw new RangeError(`'*' width or precision in '${whole}'`);
    }
    for (const n of [width, prec]) {
      if (n !== undefined && Number(n) > maxChars) {
        throw new RangeError(
          `'${whole}' is wider than the record limit (${maxChars} chars)`,
        );
      }
    }
    const spec = "%" + whole.slice(3 + key.length);
    parts.push(text);
    text = "";
    parts.push({
      key,
      spec,
      textSpec: conv === "%"
        ? spec
        : spec.slice(0, -1).replace(/[hlL]$/, "") + "s",
    });
    fields++;
  }
  parts.push(text + format.slice(last));
  if (fields === 0) {
    throw new RangeError(
      `no %(key)s field in '${format}' (e.g. '%(levelname)s %(message)s')`,
    );
  }
  return { source: format, parts };
}

/** Options of {@linkcode textLine}. */
export interface TextLineOptions {
  /** A compiled --format; the default format (with extras) when absent. */
  format?: LineFormat;
  /** Colour the level with ANSI escapes (default format only). */
  color?: boolean;
  /** Most characters of the line. */
  maxChars: number;
}

const LEVEL_COLORS: ReadonlyArray<readonly [number, string]> = [
  [50, "\x1b[1;31m"], // CRITICAL: bold red
  [40, "\x1b[31m"], // ERROR: red
  [30, "\x1b[33m"], // WARNING: yellow
  [20, "\x1b[32m"], // INFO: green
  [0, "\x1b[90m"], // DEBUG and below: grey
];
const RESET = "\x1b[0m";

function pad2(n: number): string {
  return n < 10 ? "0" + n : String(n);
}

/**
 * Python's `Formatter.formatTime` with its default formats
 * (`%Y-%m-%d %H:%M:%S,mmm`, local time).
 */
export function asctime(record: Record<string, unknown>): string {
  const created = record.created;
  if (typeof created !== "number" || !Number.isFinite(created)) {
    return "????-??-?? ??:??:??,???";
  }
  const d = new Date(Math.floor(created) * 1000);
  if (Number.isNaN(d.getTime())) return "????-??-?? ??:??:??,???";
  const msecs = typeof record.msecs === "number" &&
      record.msecs >= 0 && record.msecs < 1000
    ? Math.floor(record.msecs)
    : Math.floor((created - Math.floor(created)) * 1000);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${
    pad2(d.getHours())
  }:${pad2(d.getMinutes())}:${pad2(d.getSeconds())},${
    String(msecs).padStart(3, "0")
  }`;
}

function levelnoOf(record: Record<string, unknown>): number {
  return typeof record.levelno === "number" ? record.levelno : 0;
}

/** A record's value for a format field, before conversion. */
function fieldValue(record: Record<string, unknown>, key: string): unknown {
  switch (key) {
    case "asctime":
      return asctime(record);
    case "message":
      return record.msg ?? "";
    case "levelname":
      if (typeof record.levelname === "string") return record.levelname;
      if (!Object.hasOwn(record, "levelname")) {
        return getLevelName(levelnoOf(record));
      }
  }
  return Object.hasOwn(record, key) ? record[key] : MISSING;
}

/**
 * Keys CPython's LogRecord always makes floats: `%(msecs)s` of 330.0 is
 * "330.0" there, though the decoder gives the number 330.
 */
const FLOAT_KEYS = new Set(["created", "msecs", "relativeCreated"]);

/** Shown for a field the record does not have. */
const MISSING = "-";

/** Values %-conversions take as they are; others are rendered as text first. */
function isScalar(v: unknown): boolean {
  return v === null || typeof v === "number" || typeof v === "bigint" ||
    typeof v === "boolean";
}

/**
 * One record as text: the default format (`asctime levelname name:
 * message`, then its extras as `key=value`), or a --format; `exc_text` and
 * `stack_info` on the lines below, as Python's Formatter adds them. At
 * most `maxChars` characters (a few more for cut markers).
 */
export function textLine(
  record: Record<string, unknown>,
  options: TextLineOptions,
): string {
  const r = new Renderer("text", options.maxChars);
  r.enclose(record);
  if (options.format !== undefined) {
    formatted(r, record, options.format);
  } else {
    defaultLine(r, record, options.color ?? false);
  }
  for (const key of ["exc_text", "stack_info"]) {
    const v = record[key];
    if (v === null || v === undefined || v === "" || r.cut) continue;
    if (!r.endsWith("\n")) r.raw("\n"); // as Formatter.format: one newline
    r.value(v);
  }
  return r.take();
}

function defaultLine(
  r: Renderer,
  record: Record<string, unknown>,
  color: boolean,
): void {
  r.raw(asctime(record) + " ");
  const level = fieldValue(record, "levelname");
  if (color) {
    const levelno = levelnoOf(record);
    r.raw(LEVEL_COLORS.find(([min]) => levelno >= min)![1]);
    value(r, level, 8);
    r.raw(RESET);
  } else {
    value(r, level, 8);
  }
  r.raw(" ");
  value(r, record.name ?? "root");
  r.raw(": ");
  value(r, record.msg ?? "");
  const keys = Object.keys(record);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (STANDARD_KEYS.has(key)) continue;
    if (r.cut || r.left <= 0) {
      let n = 0;
      for (let j = i; j < keys.length; j++) {
        n += STANDARD_KEYS.has(keys[j]) ? 0 : 1;
      }
      r.raw(` …(+${n} extras)`);
      r.cut = true;
      return;
    }
    r.raw(" ");
    r.plain(key);
    r.raw("=");
    r.extra(record[key]);
  }
}

/** A value as `%s` shows it, padded to `width`. */
function value(r: Renderer, v: unknown, width = 0): void {
  if (typeof v === "string") {
    r.plain(v.length < width ? v.padEnd(width) : v);
    return;
  }
  const start = r.left;
  r.value(v);
  const written = start - r.left;
  if (written < width) r.raw(" ".repeat(width - written));
}

function formatted(
  r: Renderer,
  record: Record<string, unknown>,
  format: LineFormat,
): void {
  for (const part of format.parts) {
    if (typeof part === "string") {
      r.raw(part); // the user's own text (colour escapes included)
      continue;
    }
    let v = fieldValue(record, part.key);
    // Made text here from a value that is not a str: its str and repr are
    // that text (`%(lst)r` is [1, 'a'], not "[1, 'a']").
    let rendered = false;
    if (typeof v === "bigint" && !Number.isSafeInteger(Number(v))) {
      v = intText(v); // %d of a 16 MB int would print it whole; now cut
      rendered = true;
    } else if (
      typeof v === "number" && FLOAT_KEYS.has(part.key) &&
      /[sra]$/.test(part.spec)
    ) {
      v = pyFloat(v); // CPython's float: "330.0"
      rendered = true;
    } else if (v instanceof PickleDateTime || v instanceof PickleTimedelta) {
      // Python's str(): "2024-01-02 03:04:05" (isoformat with a space),
      // "0:01:30.500000"; their text and JSON are the isoformat and seconds.
      v = v instanceof PickleDateTime
        ? v.toString().replace("T", " ")
        : v.toString();
      rendered = true;
    } else if (!isScalar(v)) {
      // Cut or rendered now, within the record's budget.
      const sub = new Renderer("text", Math.max(0, r.left));
      rendered = typeof v !== "string";
      sub.value(v);
      v = sub.take();
    }
    if (rendered && /[ra]$/.test(part.spec)) {
      r.plain(percentFormat(part.textSpec, [v], null));
      continue;
    }
    let text: string;
    try {
      text = percentFormat(part.spec, [v], null);
    } catch {
      // %d of a str, say: Python would fail the record; show it as %s.
      try {
        text = percentFormat(part.textSpec, [v], null);
      } catch {
        text = String(v); // a scalar
      }
    }
    r.plain(text);
  }
}

/** Most keys of a record JSON.stringify may write whole. */
const MAX_FLAT_KEYS = 256;

/**
 * Whether JSON.stringify writes the record as the walker would, within
 * `maxChars`: every value a string, finite number, boolean or null (the
 * usual record). On such records it takes about half the walker's time.
 */
function isFlat(record: object, maxChars: number): boolean {
  if (Object.getPrototypeOf(record) !== Object.prototype) return false;
  let chars = 0;
  let n = 0;
  for (const key in record) {
    if (++n > MAX_FLAT_KEYS) return false;
    const v = (record as Record<string, unknown>)[key];
    if (typeof v === "string") chars += v.length * 6 + 2; // \u00XX each at worst
    else if (typeof v === "number") {
      if (!Number.isFinite(v)) return false;
      chars += 24;
    } else if (v === null || typeof v === "boolean") chars += 5;
    else return false;
    chars += key.length * 6 + 4;
    if (chars > maxChars) return false;
  }
  return true;
}

/**
 * One record as a line of JSON, cut to `maxChars` characters (plus the
 * closing brackets and markers). A record that was cut ends with
 * `"$truncated":true`.
 */
export function jsonLine(record: object, maxChars: number): string {
  const r = new Renderer("json", maxChars);
  const plain = record !== null && typeof record === "object" &&
    !Array.isArray(record) && !(record instanceof Map) &&
    typeof (record as { toJSON?: unknown }).toJSON !== "function" &&
    !(record instanceof Uint8Array) && !(record instanceof Set);
  if (!plain) {
    r.value(record);
    return r.take();
  }
  if (isFlat(record, maxChars)) return JSON.stringify(record);
  r.raw("{");
  const wrote = r.members(record, true);
  if (r.cut) r.raw(`${wrote ? "," : ""}"$truncated":true`);
  r.raw("}");
  return r.take();
}

/**
 * Whether a record's logger is one of `prefixes` or below one of them
 * (`app` takes `app` and `app.db`, not `apple`), as Python's logger
 * hierarchy goes; `root` takes every record.
 */
export function nameMatches(
  name: unknown,
  prefixes: readonly string[],
): boolean {
  if (prefixes.length === 0) return true;
  const n = typeof name === "string" ? name : "root";
  for (const p of prefixes) {
    if (
      p === "root" || n === p ||
      (n.length > p.length && n.startsWith(p) && n[p.length] === ".")
    ) return true;
  }
  return false;
}
