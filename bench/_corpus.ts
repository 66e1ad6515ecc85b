// Copyright the pysocklog authors. MIT license.
/**
 * A seeded, deterministic corpus of varied log records, for benchmarks and
 * tests that must not be flattered by one record repeated.
 *
 * The default (`"varied"`) corpus is what a service logs: 50 loggers, 400
 * call sites (`pathname`, `lineno`, `funcName`), 12 message shapes with
 * %-args, 0-6 extras of every value kind the encoder maps (small ints, ints
 * past 32 bits, floats, bools, null, strings, bigints, nested arrays and
 * objects, `Map`, `Date`, `Uint8Array`), about 5% CJK text and about 2%
 * records with an `exc_info` Error. Records are {@linkcode LogRecordInit}
 * partials, as the handlers' `handle()` takes them; extras are keys of the
 * record. Every record carries a `created` time, so the same options give
 * the same bytes from `makePickle` in every run.
 *
 * Category sub-corpora isolate one cost each, so none hides behind the
 * average: `"cache-miss"` (every record a new logger and call site, no
 * extras), `"many-extras"` (20 extra keys), `"long-text"` (a 10 KB CJK
 * message), `"exceptions"` (every record has an Error with a 20-frame
 * stack), `"no-extras"` (the varied corpus without its extras).
 *
 * {@linkcode toPythonJson} writes the same records for CPython, so that
 * CPython encodes the same dicts (bench/_py/corpus.py reads it back).
 *
 * @example The same seed gives the same records
 * ```ts
 * import { makeCorpus } from "./_corpus.ts";
 * import { makePickle } from "../mod.ts";
 * import { deepEqual, equal } from "node:assert/strict";
 *
 * const a = makeCorpus({ size: 200, seed: 7 });
 * const b = makeCorpus({ size: 200, seed: 7 });
 * equal(a.length, 200);
 * deepEqual(makePickle(a[42]), makePickle(b[42]));
 * ```
 *
 * @example One category
 * ```ts
 * import { makeCorpus } from "./_corpus.ts";
 * import { equal } from "node:assert/strict";
 *
 * const r = makeCorpus({ category: "many-extras", size: 3 })[0];
 * equal(Object.keys(r).filter((k) => k.startsWith("x_")).length, 20);
 * ```
 *
 * @module
 */

import { getMessage, type LogRecordInit, makeLogRecord } from "../mod.ts";

/** The kinds of corpus {@linkcode makeCorpus} makes. */
export type CorpusCategory =
  | "varied"
  | "no-extras"
  | "cache-miss"
  | "many-extras"
  | "long-text"
  | "exceptions";

/** Every {@linkcode CorpusCategory}, the varied corpus first. */
export const CORPUS_CATEGORIES: readonly CorpusCategory[] = [
  "varied",
  "no-extras",
  "cache-miss",
  "many-extras",
  "long-text",
  "exceptions",
];

/** Options of {@linkcode makeCorpus}. */
export interface CorpusOptions {
  /**
   * Which corpus.
   *
   * @default {"varied"}
   */
  category?: CorpusCategory;
  /**
   * Number of records.
   *
   * @default {10_000}
   */
  size?: number;
  /**
   * Seed of the generator; the same seed and options give the same records.
   *
   * @default {1}
   */
  seed?: number;
  /**
   * `created` of the first record, POSIX seconds; each later record is
   * 1-3 ms later.
   *
   * @default {1_795_000_000}
   */
  start?: number;
}

/** Loggers in the varied corpus. */
export const LOGGERS = 50;
/** Call sites in the varied corpus. */
export const CALL_SITES = 400;
/** Message shapes in the varied corpus. */
export const MESSAGE_SHAPES = 12;
/** Most extras a varied record has. */
export const MAX_EXTRAS = 6;
/** Extras of a "many-extras" record. */
export const MANY_EXTRAS = 20;
/** UTF-8 bytes of a "long-text" message (3 bytes per CJK character). */
export const LONG_TEXT_BYTES = 10_240;
/** Share of varied records with CJK text. */
export const CJK_SHARE = 0.05;
/** Share of varied records with an `exc_info` Error. */
export const EXCEPTION_SHARE = 0.02;
/** Frames of a corpus Error's stack. */
const STACK_FRAMES = 20;

const DEFAULT_SIZE = 10_000;
const DEFAULT_START = 1_795_000_000;

/** mulberry32: small, fast, good enough for test data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const int = (r: Rand, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)];

const AREAS = ["http", "db", "cache", "auth", "jobs", "billing", "search"];
const PARTS = [
  "server",
  "client",
  "pool",
  "worker",
  "router",
  "session",
  "queue",
  "index",
  "store",
  "api",
];
const FUNCS = [
  "handle",
  "run",
  "connect",
  "fetch",
  "flush",
  "retry",
  "process",
  "validate",
  "render",
  "dispatch",
  "onMessage",
  "<anonymous>",
  "Server.listen",
  "Pool.acquire",
];
const WORDS = [
  "alice",
  "bob",
  "carol",
  "dave",
  "GET",
  "POST",
  "/api/v1/orders",
  "/health",
  "eu-west-1",
  "primary",
  "timeout",
  "ok",
];
const CJK_WORDS = [
  "用户",
  "订单",
  "支付成功",
  "東京",
  "データベース",
  "接続",
  "서버",
];
const CURRENCIES = ["EUR", "USD", "JPY", "CNY"];
const EXTRA_KEYS = [
  "request_id",
  "user_id",
  "duration_ms",
  "status",
  "route",
  "tenant",
  "attempt",
  "bytes_in",
  "bytes_out",
  "cached",
  "trace",
  "tags",
  "ctx",
  "payload",
  "deadline",
  "region",
  "shard",
  "ratio",
  "parent_span",
  "flags",
];

interface Site {
  name: string;
  pathname: string;
  lineno: number;
  funcName: string;
}

function loggers(r: Rand): string[] {
  const out: string[] = [];
  for (let i = 0; i < LOGGERS; i++) {
    out.push(`app.${AREAS[i % AREAS.length]}.${pick(r, PARTS)}${i}`);
  }
  return out;
}

function sites(r: Rand, names: string[]): Site[] {
  const out: Site[] = [];
  for (let i = 0; i < CALL_SITES; i++) {
    const name = names[i % names.length];
    const parts = name.split(".");
    out.push({
      name,
      pathname: `/srv/app/src/${parts[1]}/${parts[2]}_${i % 7}.ts`,
      lineno: 10 + int(r, 900),
      funcName: pick(r, FUNCS),
    });
  }
  return out;
}

/** Characters per String.fromCharCode call. */
const CHUNK = 4096;

function cjk(r: Rand, chars: number): string {
  // CJK Unified Ideographs, 3 UTF-8 bytes each.
  const codes = new Array<number>(chars);
  for (let i = 0; i < chars; i++) codes[i] = 0x4e00 + int(r, 0x5000);
  let s = "";
  for (let i = 0; i < chars; i += CHUNK) {
    s += String.fromCharCode(...codes.slice(i, i + CHUNK));
  }
  return s;
}

function word(r: Rand, useCjk: boolean): string {
  return useCjk ? pick(r, CJK_WORDS) + cjk(r, 2) : pick(r, WORDS);
}

/** A float that no %-format rounds at a tie (so Python formats it alike). */
function float(r: Rand, scale: number): number {
  return Math.round(r() * scale * 1e6) / 1e6 + 1e-7;
}

/** One of the 12 message shapes: [format, args] (args null for none). */
function message(r: Rand, useCjk: boolean): [string, unknown[] | null] {
  switch (int(r, MESSAGE_SHAPES)) {
    case 0:
      return ["request %s %s handled in %.3f ms", [
        pick(r, ["GET", "POST", "PUT"]),
        `/api/v1/items/${int(r, 100_000)}`,
        float(r, 500),
      ]];
    case 1:
      return ["user %s logged in from %s", [
        word(r, useCjk),
        `10.${int(r, 256)}.${int(r, 256)}.${int(r, 256)}`,
      ]];
    case 2:
      return ["cache %s: %d hits, %d misses", [
        word(r, useCjk),
        int(r, 1e6),
        int(r, 1e4),
      ]];
    case 3:
      return ["processed %d items in %.2f s (%d%%)", [
        int(r, 1e5),
        float(r, 60),
        int(r, 101),
      ]];
    case 4:
      return ["connection to %s:%d closed", [
        `db-${int(r, 20)}.internal`,
        1024 + int(r, 60_000),
      ]];
    case 5:
      return ["job %s finished with status %d", [
        hexId(r, 16),
        int(r, 3) - 1,
      ]];
    case 6:
      return ["retrying %s in %d ms (attempt %d of %d)", [
        word(r, useCjk),
        int(r, 30_000),
        1 + int(r, 5),
        5,
      ]];
    case 7:
      return ["%s", [
        useCjk
          ? `${cjk(r, 12)}、${cjk(r, 8)}。`
          : `the ${pick(r, WORDS)} step took longer than expected`,
      ]];
    case 8:
      return ["payload size %d bytes exceeds limit %d", [
        2 ** 20 + int(r, 2 ** 24),
        2 ** 20,
      ]];
    case 9:
      return ["queue depth %d, lag %.1f s", [int(r, 10_000), float(r, 30)]];
    case 10:
      return [
        useCjk ? `${cjk(r, 6)}服务已启动` : "service started, listening",
        null,
      ];
    default:
      return ["order %s total %.2f %s", [
        hexId(r, 10),
        float(r, 10_000),
        pick(r, CURRENCIES),
      ]];
  }
}

function hexId(r: Rand, chars: number): string {
  let s = "";
  for (let i = 0; i < chars; i++) s += "0123456789abcdef"[int(r, 16)];
  return s;
}

/** An extra value of one of every kind the encoder maps. */
function extraValue(r: Rand, useCjk: boolean, depth = 0): unknown {
  switch (int(r, depth > 0 ? 9 : 13)) {
    case 0:
      return int(r, 1000);
    case 1:
      return 2 ** 33 + int(r, 2 ** 40); // int past 32 bits (LONG1)
    case 2:
      return float(r, 1000);
    case 3:
      return r() < 0.5;
    case 4:
      return null;
    case 5:
    case 6:
      return word(r, useCjk) + "-" + hexId(r, 6);
    case 7:
      return 2n ** 70n + BigInt(int(r, 1e9)); // bigint (LONG1)
    case 8:
      return new Date(Date.UTC(2026, 0, 1) + int(r, 1e10));
    case 9:
      return [int(r, 100), word(r, useCjk), float(r, 1)];
    case 10:
      return {
        id: hexId(r, 8),
        n: int(r, 1e5),
        ok: r() < 0.9,
        inner: [extraValue(r, useCjk, 1), extraValue(r, useCjk, 1)],
      };
    case 11: {
      const b = new Uint8Array(8 + int(r, 24));
      for (let i = 0; i < b.length; i++) b[i] = int(r, 256);
      return b;
    }
    default:
      return new Map<string, unknown>([["k", word(r, useCjk)], [
        "v",
        int(r, 100),
      ]]);
  }
}

/** An Error whose stack is fixed text (the same in every run). */
function corpusError(r: Rand, useCjk: boolean): Error {
  const err = new Error(
    useCjk ? `处理失败: ${cjk(r, 8)}` : `failed to ${pick(r, FUNCS)}`,
  );
  const frames: string[] = [];
  for (let i = 0; i < STACK_FRAMES; i++) {
    frames.push(
      `    at ${pick(r, FUNCS)} (file:///srv/app/src/${pick(r, AREAS)}/${
        pick(r, PARTS)
      }.ts:${1 + int(r, 900)}:${1 + int(r, 80)})`,
    );
  }
  err.stack = `Error: ${err.message}\n${frames.join("\n")}`;
  if (r() < 0.3) {
    const cause = new TypeError(`${pick(r, WORDS)} is not a function`);
    cause.stack = `TypeError: ${cause.message}\n${
      frames.slice(0, 5).join("\n")
    }`;
    err.cause = cause;
  }
  return err;
}

const LEVELS = [10, 20, 20, 20, 20, 20, 20, 30, 30, 40];

/**
 * Makes a corpus of log records.
 *
 * @param options Which corpus, how many records, the seed.
 * @returns Record partials, as `handle()` and `makePickle()` take them.
 */
export function makeCorpus(options: CorpusOptions = {}): LogRecordInit[] {
  const category = options.category ?? "varied";
  const size = options.size ?? DEFAULT_SIZE;
  const seed = options.seed ?? 1;
  if (!CORPUS_CATEGORIES.includes(category)) {
    throw new RangeError(`Unknown corpus category: ${category}`);
  }
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError(`Corpus size must be a non-negative integer: ${size}`);
  }
  // The call sites depend on the seed only, so every category shares them.
  const r = prng(seed);
  const names = loggers(r);
  const callSites = sites(r, names);
  const rr = prng(seed * 7919 + CORPUS_CATEGORIES.indexOf(category));
  let created = options.start ?? DEFAULT_START;
  const out: LogRecordInit[] = [];
  for (let i = 0; i < size; i++) {
    created += (1_000 + int(rr, 2_000)) / 1e6;
    const useCjk = rr() < CJK_SHARE;
    let site = pick(rr, callSites);
    if (category === "cache-miss") {
      site = {
        name: `svc${i}.${pick(rr, AREAS)}.${pick(rr, PARTS)}`,
        pathname: `/srv/svc${i}/src/${pick(rr, PARTS)}_${i}.ts`,
        lineno: 1 + int(rr, 5000),
        funcName: `${pick(rr, FUNCS)}_${i}`,
      };
    }
    const withError = category === "exceptions" ||
      (category === "varied" || category === "no-extras") &&
        rr() < EXCEPTION_SHARE;
    const record: LogRecordInit = {
      name: site.name,
      levelno: withError ? 40 : pick(rr, LEVELS),
      pathname: site.pathname,
      lineno: site.lineno,
      funcName: site.funcName,
      created,
    };
    if (category === "long-text") {
      record.msg = cjk(rr, Math.floor(LONG_TEXT_BYTES / 3));
    } else {
      const [msg, args] = message(rr, useCjk);
      // Every CJK record has CJK in its message, whatever its shape.
      record.msg = useCjk && !/[\u4e00-\u9fff]/.test(msg)
        ? `[${cjk(rr, 4)}] ${msg}`
        : msg;
      if (args !== null) record.args = args;
    }
    if (withError) record.exc_info = corpusError(rr, useCjk);
    const extras = category === "many-extras"
      ? MANY_EXTRAS
      : category === "varied"
      ? int(rr, MAX_EXTRAS + 1)
      : 0;
    for (let k = 0; k < extras; k++) {
      const key = category === "many-extras"
        ? `x_${EXTRA_KEYS[k]}`
        : EXTRA_KEYS[int(rr, EXTRA_KEYS.length)];
      record[key] = extraValue(rr, useCjk);
    }
    out.push(record);
  }
  return out;
}

/** The tag of a value JSON cannot carry as is: `{ "__py__": kind, "v": text }`. */
const TAG = "__py__";

/** Standard keys that are floats in CPython's record (and in our pickle). */
const FLOAT_KEYS = ["created", "msecs", "relativeCreated"];

/** A JSON value CPython turns back into what our encoder writes. */
function toJsonValue(v: unknown, depth: number): unknown {
  if (depth > 100) throw new RangeError("Corpus value nested too deep");
  switch (typeof v) {
    case "undefined":
      return null;
    case "boolean":
    case "string":
      return v;
    case "number":
      // Our encoder: safe integer -> int, any other number -> float.
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) return v;
      if (Number.isInteger(v) || !Number.isFinite(v) || Object.is(v, -0)) {
        return { [TAG]: "float", v: Object.is(v, -0) ? "-0.0" : String(v) };
      }
      return v;
    case "bigint":
      return { [TAG]: "int", v: v.toString() };
    case "object": {
      if (v === null) return null;
      if (v instanceof Date) {
        return { [TAG]: "float", v: String(v.getTime() / 1000) };
      }
      if (v instanceof Uint8Array) {
        let bin = "";
        for (const b of v) bin += String.fromCharCode(b);
        return { [TAG]: "bytes", v: btoa(bin) };
      }
      if (v instanceof Error) return String(v.stack ?? v);
      if (Array.isArray(v)) return v.map((x) => toJsonValue(x, depth + 1));
      const entries = v instanceof Map
        ? [...v].map(([k, x]) => [String(k), x] as const)
        : Object.entries(v);
      const out: Record<string, unknown> = {};
      for (const [k, x] of entries) {
        if (k === TAG) throw new RangeError(`Corpus key ${TAG} is reserved`);
        out[k] = toJsonValue(x, depth + 1);
      }
      return out;
    }
    default:
      return String(v);
  }
}

/**
 * The records as JSON for CPython: one object per record with `d`, the
 * dict our `makePickle` pickles (every standard key, `msg` formatted, `args`
 * and `exc_info` None, the extras), and `msg` and `args`, the format and
 * arguments before formatting (for CPython's own `getMessage`). Values JSON
 * cannot carry are tagged `{"__py__": "int" | "float" | "bytes", "v": text}`:
 * bigints and numbers our encoder writes as floats (`Date` as POSIX
 * seconds, as ours sends it; integral numbers past 2^53), and `Uint8Array`
 * as base64. bench/_py/corpus.py `load()` undoes the tags.
 *
 * @example
 * ```ts
 * import { makeCorpus, toPythonJson } from "./_corpus.ts";
 * import { equal } from "node:assert/strict";
 *
 * const json = JSON.parse(toPythonJson(makeCorpus({ size: 2 })));
 * equal(json[0].d.args, null);
 * equal(typeof json[0].d.msg, "string");
 * ```
 *
 * @param records Records of {@linkcode makeCorpus} (any partials).
 * @returns JSON text.
 */
export function toPythonJson(records: readonly LogRecordInit[]): string {
  const out: unknown[] = [];
  for (const init of records) {
    const d = makeLogRecord(init) as Record<string, unknown>;
    d.msg = getMessage(d);
    d.args = null;
    d.exc_info = null;
    const args = init.args;
    const json = toJsonValue(d, 0) as Record<string, unknown>;
    // Our encoder writes these standard keys as floats, as CPython has them.
    for (const key of FLOAT_KEYS) {
      const x = d[key];
      if (typeof x === "number" && Number.isInteger(x)) {
        json[key] = { [TAG]: "float", v: String(x) };
      }
    }
    out.push({
      d: json,
      msg: typeof init.msg === "string" ? init.msg : d.msg,
      args: Array.isArray(args) ? toJsonValue(args, 0) : null,
    });
  }
  return JSON.stringify(out);
}
