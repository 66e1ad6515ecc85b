// Copyright the pysocklog authors. MIT license.
/**
 * The Python LogRecord attribute dict: build it and normalise it.
 *
 * A record here is a plain object with the attributes CPython's
 * `logging.LogRecord` has (3.12's set, `taskName` included), so that a
 * Python receiver's `logging.makeLogRecord(pickle.loads(frame))` gives a
 * record that formats like one made in Python.
 *
 * @module
 */

import { formatError } from "../util/_error_text.ts";
import { str } from "./percent.ts";
import { RECORD_KEY_SET } from "./_keys.ts";
import {
  canonicalLevelName,
  getLevelName,
  LEVEL_N,
  NAME_LEVELS,
  NOTSET,
} from "./levels.ts";

/** The standard attributes of a CPython `logging.LogRecord` (3.12). */
export interface LogRecordFields {
  /** Logger name; `"root"` when unknown. */
  name: string;
  /**
   * The message; formatted with `args` by {@linkcode getMessage}. Given as
   * `undefined` or `null` it is Python's None (its text is `"None"`).
   */
  msg: unknown;
  /**
   * %-format arguments for `msg`; sent as None. A single non-empty mapping
   * (`[{ user: "ann" }]`) is the mapping itself, as in Python.
   */
  args: unknown;
  /** `DEBUG`, `INFO`, `WARNING`, `ERROR`, `CRITICAL`, or `Level N`. */
  levelname: string;
  /** 10, 20, 30, 40, 50 (trace 5). */
  levelno: number;
  /** Source file of the log call; `"(unknown file)"` when unknown. */
  pathname: string;
  /** Base name of `pathname`. */
  filename: string;
  /** `filename` without its extension; `"Unknown module"` when unknown. */
  module: string;
  /**
   * A thrown value, turned into `exc_text` (an Error's stack, or the text
   * of any other value); sent as None.
   */
  exc_info: unknown;
  /** The formatted exception, or null. */
  exc_text: string | null;
  /** A formatted stack, or null. */
  stack_info: string | null;
  /** Line of the log call; 0 when unknown. */
  lineno: number;
  /** Function of the log call; `"(unknown function)"` when unknown. */
  funcName: string;
  /** POSIX seconds (a float). */
  created: number;
  /** Milliseconds part of `created` (a float). */
  msecs: number;
  /** Milliseconds since this module was loaded (a float). */
  relativeCreated: number;
  /** 0 (Deno has no thread ids). */
  thread: number;
  /** `"MainThread"`, or the worker's name. */
  threadName: string;
  /** `"MainProcess"`. */
  processName: string;
  /** `Deno.pid`. */
  process: number;
  /** Always null. */
  taskName: string | null;
}

/**
 * The attribute dict of a CPython `logging.LogRecord`, as `makePickle`
 * sends it, plus any extra keys (Python's `extra=`).
 */
export interface LogRecordDict extends LogRecordFields {
  /** Extra attributes. */
  [key: string]: unknown;
}

/**
 * What {@linkcode makeLogRecord} accepts: any part of a
 * {@linkcode LogRecordDict}. `created` may be a `Date` (an invalid one, or
 * a number that is not finite, counts as unknown: now); `exc_info` may be an
 * Error (it fills `exc_text`); `levelno` or `levelname` alone fills both;
 * `stack_info: true` asks for the stack of the call, as CPython's
 * `logger.info(msg, stack_info=True)` does.
 */
export type LogRecordInit =
  & Partial<Omit<LogRecordFields, "created" | "stack_info">>
  & {
    created?: number | Date;
    stack_info?: string | boolean | null;
    [key: string]: unknown;
  };

const STANDARD = RECORD_KEY_SET;
/** Names Python's formatters set on a record: never extra keys. */
const FORMATTER_KEYS: ReadonlySet<string> = new Set(["message", "asctime"]);

export const UNKNOWN_FILE = "(unknown file)";
export const UNKNOWN_MODULE = "Unknown module";
const UNKNOWN_FUNCTION = "(unknown function)";
const MS_PER_S = 1000;
/** When this module was loaded, as CPython's `logging._startTime`. */
const START_MS = Date.now();

const threadName: string = (() => {
  const g = globalThis as { WorkerGlobalScope?: unknown; name?: unknown };
  return g.WorkerGlobalScope !== undefined && typeof g.name === "string" &&
      g.name !== ""
    ? g.name
    : "MainThread";
})();

/** Records made by makeLogRecord: makePickle need not fill them again. */
const complete = new WeakSet<object>();
/**
 * The record toLogRecord made last (a handler's `handle()` makes one and
 * pickles it at once): known complete without the WeakSet, which costs
 * about 90 ns a record.
 */
let lastMade: object | null = null;

/**
 * Builds a complete record dict from a partial one, filling every key as
 * CPython's `LogRecord` would, with CPython's own sentinels where a value is
 * unknown. Keys of `init` that are not LogRecord attributes, and the keys of
 * `extra`, become extra keys. As CPython's `makeRecord`, it refuses an extra
 * key that would overwrite one of the record's (a standard key, a key of
 * `init`) or that Python's formatters set (`message`, `asctime`).
 *
 * @example Fill a record
 * ```ts
 * import { makeLogRecord } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * const r = makeLogRecord({ name: "app", levelname: "WARN", msg: "disk low" });
 * equal(r.levelname, "WARNING");
 * equal(r.levelno, 30);
 * equal(r.funcName, "(unknown function)");
 * ```
 *
 * @param init Any part of a record.
 * @param extra Extra attributes, as Python's `extra=`.
 * @returns A complete record dict.
 * @throws {TypeError} "Attempt to overwrite 'message' in LogRecord" (CPython's
 *   KeyError) for such an extra key.
 */
export function makeLogRecord(
  init: LogRecordInit = {},
  extra?: Readonly<Record<string, unknown>>,
): LogRecordDict {
  const record = fill(init, extra);
  complete.add(record);
  return record;
}

/**
 * makeLogRecord's work, without remembering the record.
 *
 * @param init Any part of a record.
 * @param extra Extra attributes.
 * @returns A complete record dict.
 */
export function fill(
  init: LogRecordInit,
  extra?: Readonly<Record<string, unknown>>,
): LogRecordDict {
  const record = shell();
  setStandard(record, init);
  for (const key in init) {
    if (!STANDARD.has(key) && Object.hasOwn(init, key)) record[key] = init[key];
  }
  if (extra !== undefined) {
    for (const key in extra) {
      if (!Object.hasOwn(extra, key)) continue;
      if (FORMATTER_KEYS.has(key) || Object.hasOwn(record, key)) {
        throw overwriteError(key);
      }
      record[key] = extra[key];
    }
  }
  return record;
}

/** Throws for an own `message` or `asctime` key: Python's formatters set them. */
function refuseFormatterKeys(init: LogRecordInit): void {
  for (const key of FORMATTER_KEYS) {
    if (Object.hasOwn(init, key)) throw overwriteError(key);
  }
}

/** CPython's makeRecord error for an extra key it refuses (a KeyError there). */
function overwriteError(key: string): TypeError {
  return new TypeError(`Attempt to overwrite '${key}' in LogRecord`);
}

/**
 * `LogRecord.__init__`'s rule: a single non-empty mapping in `args` is the
 * mapping, so `"%(user)s"` formats with `[{ user: "ann" }]`.
 */
function unpackArgs(args: unknown): unknown {
  if (!Array.isArray(args) || args.length !== 1) return args ?? null;
  const only: unknown = args[0];
  if (only instanceof Map) return only.size > 0 ? only : args;
  if (typeof only !== "object" || only === null) return args;
  const proto = Object.getPrototypeOf(only);
  if (proto !== Object.prototype && proto !== null) return args;
  for (const key in only) if (Object.hasOwn(only, key)) return only;
  return args;
}

/**
 * `exc_text` of a thrown value: an Error's stack (and causes), the text of
 * any other value; null for none (`undefined`, `null`, or a boolean, which
 * is Python's flag for "the current exception", which JavaScript has not).
 */
function excText(excInfo: unknown): string | null {
  if (excInfo instanceof Error) return formatError(excInfo);
  if (
    excInfo === undefined || excInfo === null || typeof excInfo === "boolean"
  ) return null;
  return str(excInfo);
}

/** Most frames a `stack_info: true` captures (this package's included). */
const STACK_INFO_FRAMES = 50;
/** Where this package's code lies: its frames are left out of a stack_info. */
const OWN_CODE = [
  "record/",
  "handlers/",
  "pickle/",
  "adapters/",
  "util/",
  "logtape.ts",
  "std_log.ts",
].map((path) => new URL(`../${path}`, import.meta.url).href);

/**
 * `stack_info` as CPython has it, a str or None: `true` asks for the stack
 * of the call, written as CPython writes it ("Stack (most recent call
 * last):", outermost first) with this package's own frames left out; a
 * Python receiver's Formatter failed on a `True` ("can only concatenate
 * str"), losing the record there.
 */
function stackInfo(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (value === undefined || value === null || value === false) return null;
  if (value !== true) return str(value);
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = STACK_INFO_FRAMES;
  let stack: string;
  try {
    stack = new Error().stack ?? "";
  } finally {
    Error.stackTraceLimit = limit;
  }
  const frames = stack.split("\n").slice(1)
    .filter((line) => !OWN_CODE.some((dir) => line.includes(dir)))
    .map((line) => `  ${line.trim()}`);
  return ["Stack (most recent call last):", ...frames.reverse()].join("\n");
}

/**
 * A record with every standard key, in CPython's order, to be set.
 *
 * @returns The record.
 */
export function shell(): LogRecordDict {
  return {
    name: "",
    msg: null,
    args: null,
    levelname: "",
    levelno: 0,
    pathname: "",
    filename: "",
    module: "",
    exc_info: null,
    exc_text: null,
    stack_info: null,
    lineno: 0,
    funcName: "",
    created: 0,
    msecs: 0,
    relativeCreated: 0,
    thread: 0,
    threadName: "",
    processName: "",
    process: 0,
    taskName: null,
  };
}

/**
 * Sets every standard key of `record` from `init`, as CPython's LogRecord would.
 *
 * @param record A record from {@linkcode shell}.
 * @param init Any part of a record.
 */
export function setStandard(record: LogRecordDict, init: LogRecordInit): void {
  // Refused before anything is formatted, as CPython's makeRecord does.
  if ("message" in init || "asctime" in init) refuseFormatterKeys(init);
  let levelno: number;
  let levelname: string;
  if (typeof init.levelno === "number") {
    levelno = init.levelno;
    levelname = typeof init.levelname === "string"
      ? canonicalLevelName(init.levelname)
      : getLevelName(levelno);
  } else if (typeof init.levelname === "string") {
    levelname = canonicalLevelName(init.levelname);
    levelno = NAME_LEVELS[levelname] ?? parseLevelN(levelname);
  } else {
    levelno = NOTSET;
    levelname = getLevelName(NOTSET);
  }
  const given = init.created instanceof Date
    ? init.created.getTime() / MS_PER_S
    : init.created;
  // An invalid Date, NaN or ±Infinity is unknown too: Python's Formatter
  // cannot format such a time (time.localtime raises ValueError).
  const created = typeof given === "number" && Number.isFinite(given)
    ? given
    : Date.now() / MS_PER_S;
  const createdMs = created * MS_PER_S;
  const pathname = typeof init.pathname === "string"
    ? toPath(init.pathname)
    : UNKNOWN_FILE;
  const excInfo = init.exc_info;
  record.name = init.name ?? "root";
  // Absent: makeLogRecord's "" (CPython's sentinel); given as undefined or
  // null: None, as `logger.info(None)` in Python.
  const msg = init.msg;
  record.msg = msg !== undefined ? msg : "msg" in init ? null : "";
  record.args = unpackArgs(init.args);
  record.levelname = levelname;
  record.levelno = levelno;
  record.pathname = pathname;
  record.filename = init.filename ??
    (pathname === UNKNOWN_FILE ? UNKNOWN_FILE : basename(pathname));
  record.module = init.module ??
    (pathname === UNKNOWN_FILE
      ? UNKNOWN_MODULE
      : stripExtension(record.filename));
  record.exc_info = null;
  record.exc_text = init.exc_text ?? excText(excInfo);
  record.stack_info = stackInfo(init.stack_info);
  record.lineno = init.lineno ?? 0;
  record.funcName = init.funcName ?? UNKNOWN_FUNCTION;
  record.created = created;
  record.msecs = init.msecs ?? Math.floor(createdMs) % MS_PER_S;
  record.relativeCreated = init.relativeCreated ?? createdMs - START_MS;
  record.thread = init.thread ?? 0;
  record.threadName = init.threadName ?? threadName;
  record.processName = init.processName ?? "MainProcess";
  record.process = init.process ?? Deno.pid;
  record.taskName = init.taskName ?? null;
}

/**
 * The record itself when {@linkcode makeLogRecord} made it, else a record
 * made from it.
 */
export function toLogRecord(record: LogRecordInit): LogRecordDict {
  if (isLogRecord(record)) return record as LogRecordDict;
  const made = fill(record);
  lastMade = made;
  return made;
}

function parseLevelN(name: string): number {
  const m = LEVEL_N.exec(name);
  return m ? Number(m[1]) : NOTSET;
}

/**
 * A `file:` URL becomes a path; anything else is kept.
 *
 * @param pathname A path or URL.
 * @returns The path.
 */
export function toPath(pathname: string): string {
  if (!pathname.startsWith("file://")) return pathname;
  try {
    return decodeURIComponent(new URL(pathname).pathname);
  } catch {
    return pathname;
  }
}

export function basename(path: string): string {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return cut < 0 ? path : path.slice(cut + 1);
}

export function stripExtension(filename: string): string {
  const dot = filename.lastIndexOf(".");
  return dot <= 0 ? filename : filename.slice(0, dot);
}

/**
 * Whether makeLogRecord (or a handler's `handle()`) made this record: it
 * is then pickled as it is.
 *
 * @param record A record or a part of one.
 * @returns Whether it is complete.
 */
export function isLogRecord(record: LogRecordInit): boolean {
  return record === lastMade || complete.has(record);
}
