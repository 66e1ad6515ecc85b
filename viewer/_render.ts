// Copyright the pysocklog authors. MIT license.
// A received record as the JSON text the page gets: every value JSON can
// carry, bounded per record so that one hostile record cannot cost the page
// (or the server's history) more than MAX_RECORD_CHARS.

/** Longest string kept whole; longer ones are cut and marked. */
export const MAX_STRING_CHARS = 32 * 1024;
/** Most characters of values kept per record (strings, keys, numbers). */
export const MAX_RECORD_CHARS = 256 * 1024;
/** Most items shown per container (list, dict, set); the rest are counted. */
export const MAX_CONTAINER_ITEMS = 1_000;
/** Deepest nesting shown; deeper values become a marker string. */
export const MAX_DEPTH = 32;

/** What is left of a record's budget while it is walked. */
interface Budget {
  chars: number;
}

/**
 * `record` as JSON text for the page, as the receiver's JSON renders it:
 * bytes as `{"$bytes": "<base64>"}`, big integers as numbers when exact
 * else text, NaN and ±Infinity as text, sets and tuples as arrays, Maps as
 * objects of their keys' text, inert Python values by their `toJSON`.
 * Cycles, depth, long strings and large containers are cut, with a marker
 * saying what was left out. Never throws for a decoded record.
 */
export function renderRecord(record: Record<string, unknown>): string {
  // Most records hold only short strings, finite numbers, booleans and
  // None: JSON.stringify renders them as the walk would, about 4 times
  // faster (2.8 against 11.8 µs for a 21-key record).
  if (isFlat(record)) {
    const json = JSON.stringify(record);
    if (json.length <= MAX_RECORD_CHARS) return json;
  }
  return JSON.stringify(toView(record, 0, { chars: MAX_RECORD_CHARS }, []));
}

function isFlat(record: Record<string, unknown>): boolean {
  // A record is a container too: past MAX_CONTAINER_ITEMS keys the walk
  // cuts it (30,000 short extras fit in 256 KiB and made the page's detail
  // pane 90,000 elements, 1.5 s per click).
  let keys = 0;
  for (const key in record) {
    if (++keys > MAX_CONTAINER_ITEMS) return false;
    if (key.length > MAX_STRING_CHARS) return false;
    const v = record[key];
    switch (typeof v) {
      case "string":
        if (v.length > MAX_STRING_CHARS) return false;
        break;
      case "number":
        if (!Number.isFinite(v)) return false;
        break;
      case "boolean":
        break;
      case "object":
        if (v !== null) return false;
        break;
      default:
        return false;
    }
  }
  // for...in does not see an own "__proto__" data property's value through
  // the lookup above; leave such records to the walk.
  return !Object.hasOwn(record, "__proto__");
}

function toView(
  value: unknown,
  depth: number,
  budget: Budget,
  path: object[],
): unknown {
  switch (typeof value) {
    case "string":
      return cutString(value, budget);
    case "number":
      budget.chars -= 8;
      return Number.isFinite(value) ? value : String(value);
    case "bigint":
      budget.chars -= 8;
      return Number.isSafeInteger(Number(value))
        ? Number(value)
        : cutString(intText(value), budget);
    case "boolean":
      budget.chars -= 4;
      return value;
    case "undefined":
      budget.chars -= 4;
      return null;
    case "object":
      break;
    default:
      return cutString(String(value), budget);
  }
  // Every value costs, so a pickle's shared references (one list held
  // 1,000 times at each of 20 levels) cannot make the walk exponential.
  budget.chars -= 4;
  if (value === null) return null;
  if (budget.chars <= 0) return "…(record too large)";
  if (value instanceof Uint8Array) {
    const shown = value.subarray(0, Math.max(0, budget.chars * 3 >> 2));
    budget.chars -= Math.ceil(shown.length / 3) * 4;
    const out: Record<string, unknown> = { $bytes: toBase64(shown) };
    if (shown.length < value.length) out.$truncated = value.length;
    return out;
  }
  if (path.includes(value)) return "…(cycle)";
  if (depth >= MAX_DEPTH) return "…(nested too deep)";
  const json = (value as { toJSON?: unknown }).toJSON;
  if (typeof json === "function" && !(value instanceof Map)) {
    let plain: unknown;
    try {
      plain = json.call(value);
    } catch {
      plain = "…(unreadable value)";
    }
    if (plain === value) return "…(unreadable value)";
    path.push(value);
    const out = toView(plain, depth + 1, budget, path);
    path.pop();
    return out;
  }
  path.push(value);
  try {
    if (Array.isArray(value) || value instanceof Set) {
      const out: unknown[] = [];
      let n = 0;
      for (const item of value) {
        if (n === MAX_CONTAINER_ITEMS || budget.chars <= 0) {
          const size = Array.isArray(value) ? value.length : value.size;
          out.push(`…(${size - n} more items)`);
          break;
        }
        out.push(toView(item, depth + 1, budget, path));
        n++;
      }
      return out;
    }
    // A plain object, a Map, or anything else with own keys. The result
    // has no prototype, so a "__proto__" key stays a key.
    const out: Record<string, unknown> = Object.create(null);
    const entries: Iterable<[unknown, unknown]> = value instanceof Map
      ? value
      : Object.entries(value);
    const size = value instanceof Map ? value.size : Object.keys(value).length;
    let n = 0;
    for (const [k, v] of entries) {
      if (n === MAX_CONTAINER_ITEMS || budget.chars <= 0) {
        out["…"] = `${size - n} more keys`;
        break;
      }
      const key = cutString(typeof k === "string" ? k : keyText(k), budget);
      out[key] = toView(v, depth + 1, budget, path);
      n++;
    }
    return out;
  } finally {
    path.pop();
  }
}

/** Most characters of a dict key that is not a string (a tuple, say). */
const MAX_KEY_CHARS = 1_024;

function keyText(k: unknown): string {
  if (typeof k === "object" && k !== null && !(k instanceof Uint8Array)) {
    // The walk's JSON within a budget: String() of a tuple key built from
    // shared tuples (523 bytes of pickle) joined 2^60 strings.
    try {
      return JSON.stringify(toView(k, 0, { chars: MAX_KEY_CHARS }, []));
    } catch {
      return "(key)";
    }
  }
  if (typeof k === "bigint") return intText(k);
  return k instanceof Uint8Array ? `b:${toBase64(k)}` : String(k);
}

/**
 * Ints from 10^4300 up as `0x` hex: Python's own int -> str limit, for the
 * same reason (decimal text of a 4 MB int took 2.3 s; hex is linear).
 */
const MAX_DECIMAL_INT = 10n ** 4300n;

function intText(v: bigint): string {
  if (v < MAX_DECIMAL_INT && v > -MAX_DECIMAL_INT) return String(v);
  return v < 0n ? "-0x" + (-v).toString(16) : "0x" + v.toString(16);
}

function cutString(s: string, budget: Budget): string {
  const room = Math.max(0, Math.min(MAX_STRING_CHARS, budget.chars));
  budget.chars -= Math.min(s.length, room) + 2;
  if (s.length <= room) return s;
  return s.slice(0, room) + `…(${s.length - room} more characters)`;
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}
