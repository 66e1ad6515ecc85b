// Copyright the pysocklog authors. MIT license.
/**
 * The Python LogRecord attribute dict: build it, normalise it, frame it.
 *
 * A record here is a plain object with the attributes CPython's
 * `logging.LogRecord` has (3.12's set, `taskName` included), so that a
 * Python receiver's `logging.makeLogRecord(pickle.loads(frame))` gives a
 * record that formats like one made in Python.
 *
 * @module
 */

import { RECORD_KEYS } from "./_record_keys.ts";
import {
  formatError,
  writeRecordPickle,
  writeRecordPickleOf,
} from "./pickle/encode.ts";
import { getMessage, writeMessage } from "./_percent.ts";

export { getMessage };
import { acquireWriter, releaseWriter } from "./pickle/encode.ts";
import type { Writer } from "./pickle/_writer.ts";
import { MAX_UINT32 } from "./pickle/_opcodes.ts";

/** `logging.CRITICAL`. */
export const CRITICAL = 50;
/** `logging.ERROR`. */
export const ERROR = 40;
/** `logging.WARNING`. */
export const WARNING = 30;
/** `logging.INFO`. */
export const INFO = 20;
/** `logging.DEBUG`. */
export const DEBUG = 10;
/** Below DEBUG: LogTape's `trace`. Not a CPython level; named TRACE here. */
export const TRACE = 5;
/** `logging.NOTSET`. */
export const NOTSET = 0;

/**
 * A level: a number (`20`), or a name in any case (`"INFO"`, `"warn"`,
 * `"fatal"`, `"Level 25"`).
 */
export type Level = number | string;

const LEVEL_NAMES: Readonly<Record<number, string>> = {
  [CRITICAL]: "CRITICAL",
  [ERROR]: "ERROR",
  [WARNING]: "WARNING",
  [INFO]: "INFO",
  [DEBUG]: "DEBUG",
  [TRACE]: "TRACE",
  [NOTSET]: "NOTSET",
};

const NAME_LEVELS: Readonly<Record<string, number>> = {
  CRITICAL,
  FATAL: CRITICAL,
  ERROR,
  WARNING,
  WARN: WARNING,
  INFO,
  DEBUG,
  TRACE,
  NOTSET,
};

const LEVEL_N = /^Level (-?\d+)$/i;

/**
 * The name Python gives a level number: `getLevelName(30) === "WARNING"`,
 * `getLevelName(25) === "Level 25"`.
 *
 * @example Level names
 * ```ts
 * import { getLevelName } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * equal(getLevelName(30), "WARNING");
 * equal(getLevelName(25), "Level 25");
 * ```
 *
 * @param levelno A level number.
 * @returns Its name.
 */
export function getLevelName(levelno: number): string {
  return LEVEL_NAMES[levelno] ?? `Level ${levelno}`;
}

/**
 * The number of a level given by name or number. Names are matched in any
 * case; `WARN` is `WARNING` (30), `FATAL` is `CRITICAL` (50), `TRACE` is 5,
 * and `"Level N"` is N.
 *
 * @example Level numbers
 * ```ts
 * import { getLevelNo } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * equal(getLevelNo("warn"), 30);
 * equal(getLevelNo("fatal"), 50);
 * equal(getLevelNo(15), 15);
 * ```
 *
 * @param level A level name or number.
 * @returns Its number.
 * @throws {RangeError} When the name is not a level.
 */
export function getLevelNo(level: Level): number {
  if (typeof level === "number") return level;
  const upper = level.toUpperCase();
  const n = NAME_LEVELS[upper];
  if (n !== undefined) return n;
  const m = LEVEL_N.exec(level);
  if (m) return Number(m[1]);
  throw new RangeError(`Unknown level: ${JSON.stringify(level)}`);
}

/** The canonical name of a level name: `WARN` gives `WARNING`. */
function canonicalLevelName(name: string): string {
  const n = NAME_LEVELS[name.toUpperCase()];
  return n === undefined ? name : LEVEL_NAMES[n];
}

/** The standard attributes of a CPython `logging.LogRecord` (3.12). */
export interface LogRecordFields {
  /** Logger name; `"root"` when unknown. */
  name: string;
  /** The message; formatted with `args` by {@linkcode getMessage}. */
  msg: unknown;
  /** %-format arguments for `msg`; sent as None. */
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
  /** An Error, turned into `exc_text`; sent as None. */
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
 * {@linkcode LogRecordDict}. `created` may be a `Date`; `exc_info` may be an
 * Error (it fills `exc_text`); `levelno` or `levelname` alone fills both.
 */
export type LogRecordInit = Partial<Omit<LogRecordFields, "created">> & {
  created?: number | Date;
  [key: string]: unknown;
};

export { RECORD_KEYS };
const STANDARD = new Set(RECORD_KEYS);

const UNKNOWN_FILE = "(unknown file)";
const UNKNOWN_MODULE = "Unknown module";
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
 * `extra`, become extra keys. An `extra` key never replaces a standard key
 * or a key of `init`: it is kept under its name plus `_` instead.
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
 */
export function makeLogRecord(
  init: LogRecordInit = {},
  extra?: Readonly<Record<string, unknown>>,
): LogRecordDict {
  const record = fill(init, extra);
  complete.add(record);
  return record;
}

/** makeLogRecord's work, without remembering the record. */
function fill(
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
      let name = key;
      while (STANDARD.has(name) || Object.hasOwn(record, name)) name += "_";
      record[name] = extra[key];
    }
  }
  return record;
}

/** A record with every standard key, in CPython's order, to be set. */
function shell(): LogRecordDict {
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

/** Sets every standard key of `record` from `init`, as CPython's LogRecord would. */
function setStandard(record: LogRecordDict, init: LogRecordInit): void {
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
  const created = init.created instanceof Date
    ? init.created.getTime() / MS_PER_S
    : typeof init.created === "number"
    ? init.created
    : Date.now() / MS_PER_S;
  const createdMs = created * MS_PER_S;
  const pathname = typeof init.pathname === "string"
    ? toPath(init.pathname)
    : UNKNOWN_FILE;
  const excInfo = init.exc_info;
  record.name = init.name ?? "root";
  record.msg = init.msg ?? "";
  record.args = init.args ?? null;
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
  record.exc_text = init.exc_text ??
    (excInfo instanceof Error ? formatError(excInfo) : null);
  record.stack_info = init.stack_info ?? null;
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

/** A `file:` URL becomes a path; anything else is kept. */
function toPath(pathname: string): string {
  if (!pathname.startsWith("file://")) return pathname;
  try {
    return decodeURIComponent(new URL(pathname).pathname);
  } catch {
    return pathname;
  }
}

function basename(path: string): string {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return cut < 0 ? path : path.slice(cut + 1);
}

function stripExtension(filename: string): string {
  const dot = filename.lastIndexOf(".");
  return dot <= 0 ? filename : filename.slice(0, dot);
}

/**
 * The framed bytes CPython's `SocketHandler.makePickle` would send for a
 * record: a 4-byte big-endian length, then a protocol-2 pickle of the
 * record's dict with `msg` formatted by {@linkcode getMessage}, `args` and
 * `exc_info` None and `message` left out. A partial record is first filled
 * by {@linkcode makeLogRecord}.
 *
 * @example Frame a record
 * ```ts
 * import { makePickle } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * const frame = makePickle({ name: "app", msg: "hello %s", args: ["world"] });
 * const length = new DataView(frame.buffer, frame.byteOffset).getUint32(0);
 * equal(length, frame.length - 4);
 * ```
 *
 * @param record A record dict, or any part of one.
 * @returns The frame: length prefix and pickle.
 * @throws {TypeError} When `msg` and `args` do not format.
 * @throws {RangeError} When the pickle would be longer than 2^32-1 bytes.
 */
export function makePickle(record: LogRecordInit): Uint8Array {
  const full = toLogRecord(record);
  const w = acquireWriter();
  try {
    beginFrame(w);
    writeRecordPickle(w, full, writeMessage);
    endFrame(w);
    return w.take();
  } finally {
    releaseWriter(w);
  }
}

/** Makes room for the length prefix of the frame about to be written. */
function beginFrame(w: Writer): void {
  w.ensure(FRAME_HEADER);
  w.pos += FRAME_HEADER;
}

/** Sets the length prefix of the frame written since the last take; returns the frame's length. */
function endFrame(w: Writer): number {
  // The slab may have moved while writing: the frame starts at w.start.
  const length = w.pos - w.start;
  w.view.setUint32(w.start, frameLength(length - FRAME_HEADER), false);
  return length;
}

/** Gives the frame just written to `sink`: kept, or discarded. */
function offerFrame(w: Writer, length: number, sink: FrameSink): void {
  if (sink(w.buf, w.start, length)) w.commit();
  else w.pos = w.start;
}

/**
 * Where {@linkcode writeFrame} puts a frame: `buf[offset, offset + length)`.
 * Returns whether it keeps the frame (those bytes are then never written
 * again); a frame not kept is discarded.
 */
export type FrameSink = (
  buf: Uint8Array,
  offset: number,
  length: number,
) => boolean;

/**
 * Writes the frame {@linkcode makePickle} would return into the encoder's
 * shared slab and gives its place to `sink`, making no array for it: how a
 * handler queues a record. (Internal: not exported from mod.ts.)
 *
 * @param record A record dict, or any part of one.
 * @param sink Takes the frame's place.
 * @throws {TypeError} When `msg` and `args` do not format.
 * @throws {RangeError} When the pickle would be longer than 2^32-1 bytes.
 */
export function writeFrame(record: LogRecordInit, sink: FrameSink): void {
  const full = toLogRecord(record);
  const w = acquireWriter();
  try {
    beginFrame(w);
    writeRecordPickle(w, full, writeMessage);
    offerFrame(w, endFrame(w), sink);
  } finally {
    releaseWriter(w);
  }
}

/** The record writeInitFrame sets for each record; never handed out. */
const scratch = shell();

/**
 * Whether makeLogRecord (or a handler's `handle()`) made this record: it
 * is then pickled as it is.
 */
export function isLogRecord(record: LogRecordInit): boolean {
  return record === lastMade || complete.has(record);
}

/**
 * Writes the frame `makePickle(makeLogRecord(init))` would be, without
 * making the record (its standard keys are set on one scratch record, its
 * extra keys read from `init`), and gives its place to `sink`. Writes
 * nothing and returns false when the record's level is below `minLevel`.
 * (Internal: a handler's `handle()` without filters.)
 *
 * @param init Any part of a record.
 * @param minLevel The lowest level written.
 * @param sink Takes the frame's place.
 * @returns Whether the record was at `minLevel` or above.
 * @throws {TypeError} When `msg` and `args` do not format.
 * @throws {RangeError} When the pickle would be longer than 2^32-1 bytes.
 */
export function writeInitFrame(
  init: LogRecordInit,
  minLevel: number,
  sink: FrameSink,
): boolean {
  setStandard(scratch, init);
  if (scratch.levelno < minLevel) return false;
  const w = acquireWriter();
  try {
    beginFrame(w);
    if (!writeRecordPickleOf(w, scratch, init, writeMessage)) {
      writeRecordPickle(w, fill(init), writeMessage);
    }
    offerFrame(w, endFrame(w), sink);
  } finally {
    releaseWriter(w);
  }
  return true;
}

/** Bytes of the `>L` length prefix. */
export const FRAME_HEADER = 4;

/**
 * Checks that a pickle of `length` bytes can be framed (`>L` holds at most
 * 2^32-1) and returns the length.
 *
 * @throws {RangeError} When it cannot.
 */
export function frameLength(length: number): number {
  if (length > MAX_UINT32) {
    throw new RangeError(
      `Record pickle is ${length} bytes; a frame holds at most ${MAX_UINT32} (2^32-1) bytes`,
    );
  }
  return length;
}
