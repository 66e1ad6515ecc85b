// Copyright the pysocklog authors. MIT license.
// Rendering received values as JSON or as Python-like text, within a budget
// of output characters. Records come from the network: a 503-byte pickle
// can hold a list shared 2^60 times, a list containing itself, or a dict
// whose `toString` is a number. So every value is written by this walker,
// never by JSON.stringify, String() or Deno.inspect: each step writes at
// least one character, so the budget bounds the time as well as the text
// (64 Ki characters take about 1-5 ms).

import { isTuple } from "../pickle/_types.ts";
import { PickleObject } from "../pickle/decode.ts";
import { pyNumber } from "../record/percent.ts";

/**
 * Default most characters written for one record (its line, in text or
 * JSON). What does not fit is cut and marked.
 */
export const DEFAULT_MAX_RECORD_CHARS = 65_536;
/** Smallest `maxChars` accepted: room for a time, a level and a name. */
export const MIN_MAX_RECORD_CHARS = 80;
/** Largest `maxChars` accepted (V8 strings end near 2^29 characters). */
export const MAX_MAX_RECORD_CHARS = 2 ** 28;
/** Deepest nesting written; deeper values are cut and marked. */
export const MAX_RENDER_DEPTH = 1_000;
/** Most characters of a Map key that is not a string (a tuple, say). */
const MAX_KEY_CHARS = 1_024;
/**
 * Ints from 10^4300 up are written in hex: Python's own limit on int -> str
 * (`sys.int_info.default_max_str_digits`), for the same reason. Decimal
 * text of a 4 MB LONG4 took 2.3 s (quadratic); its hex takes ~8 ms.
 */
const MAX_DECIMAL_INT = 10n ** 4300n;

/**
 * An int as text: decimal, or `0x…` hex (linear time) past 4,300 digits.
 *
 * @param v The int.
 * @returns Its text, whole (the caller cuts it).
 */
export function intText(v: bigint): string {
  if (v < MAX_DECIMAL_INT && v > -MAX_DECIMAL_INT) return String(v);
  return v < 0n ? "-0x" + (-v).toString(16) : "0x" + v.toString(16);
}

/** The marker of a string cut short: `…(+N chars)`. */
export function cutChars(n: number): string {
  return `…(+${n} chars)`;
}
/** The marker of a list, set or dict cut short: `…(+N items)`. */
export function cutItems(n: number): string {
  return `…(+${n} items)`;
}

type Mode = "json" | "text";

/**
 * One rendering: the text so far, the characters left, whether anything
 * was cut, and what it learned about the objects it met (their keys, their
 * `toJSON` result), so that an object shared a million times is listed and
 * converted once.
 */
export class Renderer {
  /** Characters still to be written before values are cut. */
  left: number;
  /** Whether anything was cut (or too deep). */
  cut = false;
  readonly #mode: Mode;
  readonly #ancestors = new Set<object>();
  readonly #keys = new Map<object, string[]>();
  readonly #json = new Map<object, unknown>();
  #depth = 0;
  #out = "";

  /**
   * @param mode `"json"` or `"text"` (Python's `repr` style).
   * @param maxChars Characters allowed in all.
   */
  constructor(mode: Mode, maxChars: number) {
    this.#mode = mode;
    this.left = maxChars;
  }

  /** Takes what was written so far, leaving the renderer empty. */
  take(): string {
    const s = this.#out;
    this.#out = "";
    return s;
  }

  /** Whether what was written so far ends with `s`. */
  endsWith(s: string): boolean {
    return this.#out.endsWith(s);
  }

  /** Writes text as is (it counts against the budget). */
  raw(s: string): void {
    this.#out += s;
    this.left -= s.length;
  }

  /** Writes a string without quotes, cut to the budget. */
  plain(s: string): void {
    const limit = Math.max(0, this.left);
    const head = s.length <= limit ? s : headUnits(s, limit);
    let shown = head;
    let used = head.length;
    if (this.#mode === "text" && CONTROL.test(head)) {
      [shown, used] = escapeControls(s, limit);
    }
    if (used === s.length) return this.raw(shown);
    this.raw(shown + cutChars(s.length - used));
    this.cut = true;
  }

  /**
   * Writes a value: as JSON, or in text mode as Python's `str()` would at
   * the top (a string as itself) and `repr()` inside containers.
   */
  value(v: unknown): void {
    if (this.#mode === "text") {
      const text = typeof v === "string" ? v : this.#jsonText(v);
      if (text !== undefined) return this.plain(text);
    }
    this.#value(v, false);
  }

  /**
   * Writes an extra's value after `key=`: text (a str, or what `toJSON`
   * gives for a datetime, Decimal, UUID or path) bare when it has no
   * space, quote, `=` or control character, else quoted; others as repr.
   */
  extra(v: unknown): void {
    const text = typeof v === "string" ? v : this.#jsonText(v);
    if (text === undefined) return this.#value(v, false);
    if (BARE_VALUE.test(text)) return this.plain(text);
    this.#string(text);
  }

  /** What `toJSON` gives for `v` when that is a string (once per object). */
  #jsonText(v: unknown): string | undefined {
    if (
      v === null || typeof v !== "object" ||
      typeof (v as { toJSON?: unknown }).toJSON !== "function"
    ) return undefined;
    const r = this.#toJSON(v);
    return typeof r === "string" ? r : undefined;
  }

  /** `o.toJSON("")`, taken once per rendering; a throw becomes a marker. */
  #toJSON(o: object): unknown {
    if (this.#json.has(o)) return this.#json.get(o);
    let r: unknown;
    try {
      r = (o as { toJSON(key: string): unknown }).toJSON("");
    } catch (error) {
      r = { $error: `toJSON failed: ${errorText(error)}` };
    }
    this.#json.set(o, r);
    return r;
  }

  /**
   * Marks `o` as enclosing what is written next (a record whose extras
   * are being written), so that a reference to it is a cycle.
   */
  enclose(o: object): void {
    this.#ancestors.add(o);
  }

  /**
   * Writes a plain object's entries as the members of an enclosing JSON
   * object (`"k":v,...`, for a record's keys), with `first` telling whether
   * a comma is needed before the first one. Returns whether any was written.
   */
  members(o: object, first: boolean): boolean {
    this.#ancestors.add(o);
    const keys = this.#keysOf(o);
    const wrote = this.#entries(
      keys.length,
      (i) => [keys[i], (o as Record<string, unknown>)[keys[i]]],
      first,
    );
    this.#ancestors.delete(o);
    return wrote;
  }

  /** The own enumerable keys of an object, listed once per rendering. */
  #keysOf(o: object): string[] {
    let keys = this.#keys.get(o);
    if (keys === undefined) {
      keys = Object.keys(o);
      this.#keys.set(o, keys);
    }
    return keys;
  }

  #value(v: unknown, skipToJSON: boolean): void {
    const json = this.#mode === "json";
    switch (typeof v) {
      case "string":
        return this.#string(v);
      case "number":
        if (json) return this.raw(Number.isFinite(v) ? String(v) : `"${v}"`);
        // Python's text: a number past 2^53 or with a fraction was a float
        // (1e-07, 1e+16, -0.0, nan); the decoder makes big ints bigints.
        return this.raw(pyNumber(v));
      case "bigint":
        if (Number.isSafeInteger(Number(v))) return this.raw(String(v));
        // A peer's int may hold 16 MB: cut to the budget like a string.
        return json ? this.#string(intText(v)) : this.plain(intText(v));
      case "boolean":
        return this.raw(json ? String(v) : v ? "True" : "False");
      case "undefined":
      case "function":
      case "symbol":
        return this.raw(json ? "null" : "None");
    }
    if (v === null) return this.raw(json ? "null" : "None");
    const o = v as object;
    if (this.#ancestors.has(o)) {
      // A reference back to an enclosing value: Python's repr writes
      // [...] or {...}; JSON gets a marker.
      if (!json) return this.raw(Array.isArray(o) ? "[...]" : "{...}");
      return this.raw('{"$cycle":true}');
    }
    if (this.#depth >= MAX_RENDER_DEPTH) {
      this.cut = true;
      return this.raw(json ? '"…(too deep)"' : "…(too deep)");
    }
    this.#depth++;
    this.#ancestors.add(o);
    try {
      this.#object(o, skipToJSON);
    } finally {
      this.#ancestors.delete(o);
      this.#depth--;
    }
  }

  #object(o: object, skipToJSON: boolean): void {
    const json = this.#mode === "json";
    if (o instanceof Uint8Array) return this.#bytes(o);
    if (Array.isArray(o)) {
      const tuple = !json && isTuple(o);
      this.raw(tuple ? "(" : "[");
      this.#items(o.length, (i) => o[i]);
      if (tuple && o.length === 1 && !this.cut) this.raw(",");
      return this.raw(tuple ? ")" : "]");
    }
    if (o instanceof Set) {
      if (!json && o.size === 0) return this.raw("set()");
      this.raw(json ? "[" : "{");
      const it = o.values();
      this.#items(o.size, () => it.next().value);
      return this.raw(json ? "]" : "}");
    }
    if (o instanceof Map) {
      this.raw("{");
      const it = o.entries();
      this.#entries(o.size, () => {
        const [k, v] = it.next().value as [unknown, unknown];
        // JSON keys are text; Python's repr shows the key itself.
        return [typeof k === "string" || !json ? k : this.#keyText(k), v];
      }, true);
      return this.raw("}");
    }
    const hasToJSON = !skipToJSON &&
      typeof (o as { toJSON?: unknown }).toJSON === "function";
    if (!json && o instanceof PickleObject) {
      // A typed form's text (a UUID's, say) when it has one; else the call,
      // as Python's repr would show it: decimal.Decimal('1.5').
      const r = hasToJSON ? this.#toJSON(o) : undefined;
      if (r !== null && typeof r !== "object" && r !== undefined) {
        return this.#value(r, true);
      }
      this.raw(`${o.global.module}.${o.global.name}(`);
      this.#items(o.args.length, (i) => o.args[i]);
      return this.raw(")");
    }
    if (hasToJSON) {
      const r = this.#toJSON(o);
      if (r !== o) return this.#value(r, true);
    }
    this.raw("{");
    const keys = this.#keysOf(o);
    this.#entries(
      keys.length,
      (i) => [keys[i], (o as Record<string, unknown>)[keys[i]]],
      true,
    );
    this.raw("}");
  }

  /** Writes `n` items (`, `-separated in text), cutting when out of budget. */
  #items(n: number, item: (i: number) => unknown): void {
    const sep = this.#mode === "json" ? "," : ", ";
    for (let i = 0; i < n; i++) {
      if (this.cut) return;
      if (i > 0) this.raw(sep);
      if (this.left <= 0) return this.#cutItems(n - i);
      this.#value(item(i), false);
    }
  }

  /** Writes `n` dict entries; returns whether any was written. */
  #entries(
    n: number,
    entry: (i: number) => [unknown, unknown],
    first: boolean,
  ): boolean {
    const json = this.#mode === "json";
    let wrote = false;
    for (let i = 0; i < n; i++) {
      if (this.cut) return wrote;
      const [k, v] = entry(i);
      if (
        json &&
        (v === undefined || typeof v === "function" || typeof v === "symbol")
      ) {
        continue; // as JSON.stringify leaves them out
      }
      if (!first || wrote) this.raw(json ? "," : ", ");
      if (this.left <= 0) {
        if (json) this.raw('"…":');
        this.#cutItems(n - i);
        return true;
      }
      wrote = true;
      if (typeof k === "string") this.#string(k);
      else this.#value(k, false);
      this.raw(json ? ":" : ": ");
      this.#value(v, false);
    }
    return wrote;
  }

  #cutItems(n: number): void {
    this.raw(this.#mode === "json" ? `"${cutItems(n)}"` : cutItems(n));
    this.cut = true;
  }

  /** A quoted string: JSON's escapes, or Python's repr. */
  #string(s: string): void {
    const json = this.#mode === "json";
    const quote = json ? jsonQuote : pyQuote;
    if (s.length + 2 <= this.left) {
      const q = quote(s);
      if (q.length <= this.left || s.length < 64) return this.raw(q);
    }
    // Cut: shrink the head until its quoted form fits.
    let head = headUnits(s, Math.max(0, this.left - 2));
    let q = quote(head);
    while (q.length > this.left + 2 && head.length > 0) {
      head = headUnits(
        head,
        Math.floor(head.length * Math.max(0, this.left - 2) / q.length),
      );
      q = quote(head);
    }
    const mark = cutChars(s.length - head.length);
    this.raw(q.slice(0, -1) + mark + q.slice(-1));
    this.cut = true;
  }

  /** Bytes: `{"$bytes": base64}` in JSON, `b'...'` in text. */
  #bytes(b: Uint8Array): void {
    if (this.#mode === "json") {
      const fit = Math.floor(Math.max(0, this.left - 16) / 4) * 3;
      if (b.length <= fit) {
        return this.raw(`{"$bytes":"${toBase64(b)}"}`);
      }
      this.cut = true;
      return this.raw(
        `{"$bytes":"${toBase64(b.subarray(0, fit))}","$cut":${b.length - fit}}`,
      );
    }
    const fit = Math.max(0, Math.floor((this.left - 3) / 4));
    const n = Math.min(b.length, fit);
    let s = "b'";
    for (let i = 0; i < n; i++) s += byteRepr(b[i]);
    if (n < b.length) {
      this.cut = true;
      s += cutChars(b.length - n);
    }
    this.raw(s + "'");
  }

  /** A Map key that is not a string, as text. */
  #keyText(k: unknown): string {
    const r = new Renderer("text", Math.min(MAX_KEY_CHARS, this.left));
    r.value(k);
    return r.take();
  }
}

/**
 * Control characters a terminal would act on (escape sequences, carriage
 * return, backspace): text mode shows them as `\xNN`, so a record cannot
 * clear the screen or rewrite the line. Newline and tab stay.
 */
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

/**
 * `s` with its control characters escaped, up to `limit` characters of
 * output; returns the text and how many characters of `s` it shows.
 */
function escapeControls(s: string, limit: number): [string, number] {
  let out = "";
  let last = 0;
  let length = 0;
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const control = (c < 0x20 && c !== 10 && c !== 9) ||
      (c >= 0x7f && c <= 0x9f);
    const width = control ? 4 : 1;
    if (length + width > limit) break;
    length += width;
    if (control) {
      out += s.slice(last, i) + "\\x" + c.toString(16).padStart(2, "0");
      last = i + 1;
    }
  }
  return [out + s.slice(last, i), i];
}

/** Text shown without quotes after `key=`. */
// deno-lint-ignore no-control-regex
const BARE_VALUE = /^[^\s"'=\\\x00-\x1f\x7f-\x9f]+$/;

/** The first `n` UTF-16 units of `s`, not splitting a surrogate pair. */
export function headUnits(s: string, n: number): string {
  if (n >= s.length) return s;
  if (n <= 0) return "";
  const c = s.charCodeAt(n - 1);
  return s.slice(0, c >= 0xd800 && c <= 0xdbff ? n - 1 : n);
}

function jsonQuote(s: string): string {
  return JSON.stringify(s);
}

/** Python's repr of a str: single quotes unless it holds one and no double. */
function pyQuote(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let body = "";
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc: string | undefined;
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
      esc = c === 10
        ? "\\n"
        : c === 13
        ? "\\r"
        : c === 9
        ? "\\t"
        : "\\x" + c.toString(16).padStart(2, "0");
    } else if (c === 0x5c) esc = "\\\\";
    else if (c === q.charCodeAt(0)) esc = "\\" + q;
    if (esc !== undefined) {
      body += s.slice(last, i) + esc;
      last = i + 1;
    }
  }
  return q + body + s.slice(last) + q;
}

function byteRepr(c: number): string {
  if (c === 0x5c) return "\\\\";
  if (c === 0x27) return "\\'";
  if (c === 10) return "\\n";
  if (c === 13) return "\\r";
  if (c === 9) return "\\t";
  if (c < 0x20 || c >= 0x7f) return "\\x" + c.toString(16).padStart(2, "0");
  return String.fromCharCode(c);
}

/** Base64 of bytes (btoa takes a binary string). */
export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** An error's message as one line, without ever throwing. */
export function errorText(error: unknown): string {
  try {
    const text = error instanceof Error
      ? error.message
      : typeof error === "string"
      ? error
      : Object.prototype.toString.call(error);
    return text.split("\n", 1)[0];
  } catch {
    return "unknown error";
  }
}
