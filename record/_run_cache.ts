// Copyright the pysocklog authors. MIT license.
// Runs of value bytes kept from record to record, for the values that seldom
// change: the source (pathname, filename, module) by pathname, levelname and
// levelno by level, the tail (thread .. taskName); each bounded.

import { BytesCache, type Writer } from "../pickle/_writer.ts";
import { writeScalar } from "../pickle/encode.ts";
import {
  seg,
  T_FILENAME,
  T_LEVELNAME,
  T_LEVELNO,
  T_MODULE,
} from "./_template.ts";

/** pathname, filename and module written, by pathname (see writeSource). */
const sources = new BytesCache();

/**
 * Writes pathname, filename and module, when filename and module are what
 * setStandard derives from pathname: their bytes kept as one run keyed by
 * the pathname (a record's source then costs one look-up, not three).
 */
export function writeSource(
  w: Writer,
  pathname: unknown,
  filename: unknown,
  module: unknown,
): void {
  if (typeof pathname !== "string") {
    writeRepeating(w, pathname);
    seg(w, T_FILENAME);
    writeRepeating(w, filename);
    seg(w, T_MODULE);
    writeRepeating(w, module);
    return;
  }
  if (sources.copy(w, pathname)) return;
  const at = w.pos - w.start;
  writeRepeating(w, pathname);
  seg(w, T_FILENAME);
  writeRepeating(w, filename);
  seg(w, T_MODULE);
  writeRepeating(w, module);
  sources.keep(pathname, w.buf, w.start + at, w.pos);
}

/** Levels below this have their levelname and levelno kept as one run. */
const KEPT_LEVELS = 64;
/** By levelno: the levelname the run was written with, and the run. */
const levelNames: unknown[] = new Array(KEPT_LEVELS).fill(undefined);
const levelRuns: (Uint8Array | undefined)[] = new Array(KEPT_LEVELS).fill(
  undefined,
);

/** Writes levelname and levelno, from the run kept for the level when it matches. */
export function writeLevel(
  w: Writer,
  levelname: unknown,
  levelno: unknown,
): void {
  const kept = typeof levelno === "number" && levelno >= 0 &&
    levelno < KEPT_LEVELS && Number.isInteger(levelno) &&
    !Object.is(levelno, -0);
  if (kept && levelNames[levelno] === levelname) {
    copyWhole(w, levelRuns[levelno]!);
    return;
  }
  const at = w.pos - w.start;
  seg(w, T_LEVELNAME);
  writeRepeating(w, levelname);
  seg(w, T_LEVELNO);
  writeScalar(w, levelno);
  if (kept) {
    // One run per level, made once: bounded by KEPT_LEVELS.
    levelRuns[levelno] = w.buf.slice(w.start + at, w.pos);
    levelNames[levelno] = levelname;
  }
}

/** Longest run of thread .. taskName kept. */
const MAX_TAIL_BYTES = 1024;
/** The last values of thread .. taskName and their run (they seldom change). */
export const tail = {
  thread: undefined as unknown,
  threadName: undefined as unknown,
  processName: undefined as unknown,
  process: undefined as unknown,
  taskName: undefined as unknown,
  bytes: new Uint8Array(0),
  length: 0,
};
/** Not a value of any record: no record matches the tail before it is kept. */
const NO_VALUE = Symbol("none");
tail.thread = NO_VALUE;

/** Keeps `w.buf[from, w.pos)`, the run of thread .. taskName, for these values. */
export function keepTail(
  w: Writer,
  from: number,
  thread: unknown,
  threadName: unknown,
  processName: unknown,
  process: unknown,
  taskName: unknown,
): void {
  const n = w.pos - from;
  if (n > MAX_TAIL_BYTES) return;
  // A copy of its own (they seldom change): copied with set, not a loop.
  tail.bytes = w.buf.slice(from, w.pos);
  tail.length = n;
  tail.thread = thread;
  tail.threadName = threadName;
  tail.processName = processName;
  tail.process = process;
  tail.taskName = taskName;
}

/** Copies `bytes`, with set (a native copy) when long enough to pay for the call. */
export function copyWhole(w: Writer, bytes: Uint8Array): void {
  const n = bytes.length;
  w.ensure(n);
  if (n > SET_BYTES) {
    w.buf.set(bytes, w.pos);
    w.pos += n;
    return;
  }
  const buf = w.buf;
  let p = w.pos;
  for (let i = 0; i < n; i++) buf[p++] = bytes[i];
  w.pos = p;
}

/** Runs longer than this are copied with set. */
const SET_BYTES = 32;

/** A standard value that repeats: a string through the string cache. */
export function writeRepeating(w: Writer, v: unknown): void {
  if (typeof v === "string") w.cachedStr(v);
  else writeScalar(w, v);
}
