// Copyright the pysocklog authors. MIT license.
/**
 * Caller information for records, as CPython's `Logger.findCaller`: the
 * file, line and function of the log call, found on the stack past the
 * logging libraries' own frames.
 *
 * @module
 */

import { toPath } from "./model.ts";

/** Where a log call was made. */
export interface CallerInfo {
  /** File path (a `file:` URL becomes a path), or the module's URL. */
  pathname: string;
  /** 1-based line. */
  lineno: number;
  /** Function name; `"<module>"` for top-level code, as CPython says. */
  funcName: string;
}

/** Files of the logging libraries whose frames stand above a log call: std/log, LogTape. */
const LIBRARY_FILE = /[/@]std\/log\/|\/@logtape\//;
/**
 * This package's root, from this module's own URL (it is one folder down),
 * as a URL and, as V8 reports local files, a path.
 */
const OWN_ROOT = new URL("..", import.meta.url).href;
const OWN_ROOT_PATH = toPath(OWN_ROOT);
/**
 * What under the root is not the library: code that logs through it (its
 * tests, benchmarks and demo, and the examples `deno test --doc` runs, as
 * `record/caller.ts#96-107.ts`), whose log calls are callers like any other.
 */
const NOT_LIBRARY = /^(?:tests\/|bench\/|demo\.ts$|[^#]*#\d+-\d+\.\w+$)/;

/** Whether a file is the library's own: wherever it sits in the package. */
function isOwnFile(file: string): boolean {
  const rest = file.startsWith(OWN_ROOT)
    ? file.slice(OWN_ROOT.length)
    : file.startsWith(OWN_ROOT_PATH)
    ? file.slice(OWN_ROOT_PATH.length)
    : null;
  return rest !== null && !NOT_LIBRARY.test(rest);
}

/** Whether a file's frames stand above a log call: this package, std/log, LogTape, the runtime. */
function isLoggingFile(file: string): boolean {
  return isOwnFile(file) || LIBRARY_FILE.test(file) ||
    file.startsWith("ext:") || file.startsWith("node:");
}

/**
 * By file: null for logging code, else the file's path (`toPath` of a
 * `file:` URL costs about 1 µs). Bounded: cleared when full.
 */
const knownFiles = new Map<string, string | null>();
/** Most files knownFiles holds. */
const MAX_KNOWN_FILES = 1024;

/** The file's path, or null when the file is logging code. */
function callerPath(file: string): string | null {
  let known = knownFiles.get(file);
  if (known === undefined) {
    if (knownFiles.size >= MAX_KNOWN_FILES) knownFiles.clear();
    known = isLoggingFile(file) ? null : toPath(file);
    knownFiles.set(file, known);
  }
  return known;
}

/** Most frames a look takes. */
const STACK_LIMIT = 40;
/** How much a look that falls short grows for the next one. */
const LOOK_GROWTH = 4;
/**
 * How many first looks in a row must find the caller nearer than they
 * looked before the next ones look less far.
 */
const LOOK_DECAY = 256;

/**
 * How far the first look goes, per entry point: as far as the deepest
 * caller lately. Deno wraps each frame it hands to `prepareStackTrace`
 * (~0.4 µs a frame), so a look takes few frames; one that falls short
 * costs another capture (~2-3 µs), so it shrinks only slowly: when the log
 * calls alternate between depths 1 and 2, it stays at 2.
 */
interface Look {
  frames: number;
  nearer: number;
}
const looks = new Map<AnyFunction, Look>();
/** Most entry points `looks` holds (they are the logging code's own). */
const MAX_ENTRIES = 64;

// deno-lint-ignore no-explicit-any
type AnyFunction = (...args: any[]) => unknown;

/**
 * Finds the caller of the logging call: the first stack frame that is not
 * in this package, in @std/log or in LogTape (or in a file for which
 * `isLibraryFile` says true). Costs a stack capture, about 1.1 times
 * Deno's floor for one frame (bench/results/caller.md): V8 captures at
 * least 10 frames whatever `Error.stackTraceLimit`, Deno wraps the frame
 * for `Error.prepareStackTrace` and maps its line through the
 * source map. That is about 10 times CPython's findCaller, which is why handlers
 * only do it when asked (`caller: true`).
 *
 * @example Where was I called from?
 * ```ts
 * import { findCaller } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * function handle() {
 *   return findCaller(); // the caller: this line, in handle()
 * }
 * const info = handle();
 * equal(info?.funcName, "handle");
 * equal(typeof info?.lineno, "number");
 * ```
 *
 * @param isLibraryFile Tells which further files are logging code to skip
 *   (given a path, or a module's URL).
 * @returns The caller, or `undefined` when the stack holds only library frames.
 */
export function findCaller(
  isLibraryFile?: (file: string) => boolean,
): CallerInfo | undefined {
  return findCallerAbove(findCaller, isLibraryFile);
}

/**
 * {@linkcode findCaller} from a logging entry point that is on the stack:
 * the frames up to and including the innermost call of `entry` are never
 * captured (nor wrapped by Deno), so the first frame looked at is usually
 * the caller's. Gives what `findCaller` gives from the same place. Falls
 * back to looking past this function's own frame when `entry` is not on
 * the stack. (Internal: not exported from mod.ts.)
 *
 * @param entry The logging code's outermost function known to be on the stack.
 * @param isLibraryFile Tells which further files are logging code to skip
 *   (given a path, or a module's URL).
 * @returns The caller, or `undefined` when the stack holds only library frames.
 */
export function findCallerAbove(
  entry: AnyFunction,
  isLibraryFile?: (file: string) => boolean,
): CallerInfo | undefined {
  const E = Error as ErrorWithHooks;
  const limit = E.stackTraceLimit;
  const prepare = E.prepareStackTrace;
  E.prepareStackTrace = keepCallSites;
  try {
    let look = looks.get(entry);
    if (look === undefined) {
      if (looks.size >= MAX_ENTRIES) looks.clear();
      look = { frames: 1, nearer: 0 };
      looks.set(entry, look);
    }
    let frames = look.frames;
    let above: AnyFunction = entry;
    let sites = capture(frames, above);
    if (typeof sites === "string") {
      // No prepareStackTrace call (another runtime): read the text, all of it.
      const text = capture(STACK_LIMIT, findCallerAbove);
      return typeof text === "string"
        ? fromStackText(text, isLibraryFile)
        : undefined;
    }
    if (sites !== undefined && sites.length === 0) {
      // `entry` is not on the stack: look past this function instead.
      above = findCallerAbove;
      frames = STACK_LIMIT;
      sites = capture(frames, above);
    }
    if (!Array.isArray(sites)) return undefined;
    let depth = callerIndex(sites, isLibraryFile);
    while (depth < 0 && sites.length === frames && frames < STACK_LIMIT) {
      // The caller is deeper than this look: look further.
      frames = Math.min(frames * LOOK_GROWTH, STACK_LIMIT);
      sites = capture(frames, above);
      if (!Array.isArray(sites)) return undefined;
      depth = callerIndex(sites, isLibraryFile);
    }
    if (depth < 0) return undefined;
    if (above === entry) {
      if (depth + 1 > look.frames) {
        look.frames = depth + 1;
        look.nearer = 0;
      } else if (depth + 1 === look.frames) {
        look.nearer = 0;
      } else if (++look.nearer >= LOOK_DECAY) {
        look.frames = depth + 1;
        look.nearer = 0;
      }
    }
    return callerAt(sites[depth]);
  } finally {
    E.stackTraceLimit = limit;
    E.prepareStackTrace = prepare;
  }
}

/**
 * The call sites of a capture of `frames` frames past `above` (with
 * keepCallSites installed), or its text where the runtime formats it.
 */
function capture(
  frames: number,
  above: AnyFunction,
): CallSite[] | string | undefined {
  (Error as ErrorWithHooks).stackTraceLimit = frames;
  const holder: { stack?: unknown } = {};
  Error.captureStackTrace(holder, above);
  const sites = holder.stack;
  return typeof sites === "string" || Array.isArray(sites) ? sites : undefined;
}

/** The script of the frame callerIndex found last. */
let foundScript = "";

/** Index of the first frame of `sites` past the logging code, or -1. */
function callerIndex(
  sites: readonly CallSite[],
  isLibraryFile?: (file: string) => boolean,
): number {
  for (let i = 0; i < sites.length; i++) {
    // The script's name, not getFileName's source-mapped one: that costs
    // ~1.5 µs a frame, and it can move a frame into another file (a doc
    // test's snippet maps into the module it documents: library code).
    const file = scriptOf(sites[i]);
    if (!file) continue;
    if (callerPath(file) === null || isLibraryFile?.(file)) continue;
    foundScript = file;
    return i;
  }
  return -1;
}

function scriptOf(site: CallSite): string | null | undefined {
  return site.getScriptNameOrSourceURL?.() ?? site.getFileName();
}

/** The caller's info from its frame (one that callerIndex chose). */
function callerAt(site: CallSite): CallerInfo {
  return {
    pathname: callerPath(foundScript) as string,
    lineno: site.getLineNumber() ?? 0,
    funcName: site.getFunctionName() ??
      (site.isToplevel() ? "<module>" : "<anonymous>"),
  };
}

/** `at fn (file:1:2)`, `at file:1:2`, `at async fn (file:1:2)`. */
const FRAME = /^\s*at (?:async )?(?:(.+?) \()?(.+?):(\d+):\d+\)?$/;

/**
 * The same search over a formatted stack, for when the runtime does not
 * call `Error.prepareStackTrace` (as under `deno test`).
 */
function fromStackText(
  stack: string,
  isLibraryFile?: (file: string) => boolean,
): CallerInfo | undefined {
  for (const line of stack.split("\n")) {
    const m = FRAME.exec(line);
    if (m === null) continue;
    const file = m[2];
    const pathname = callerPath(file);
    if (pathname === null || isLibraryFile?.(file)) continue;
    return {
      pathname,
      lineno: Number(m[3]),
      funcName: functionName(m[1]),
    };
  }
  return undefined;
}

function functionName(raw: string | undefined): string {
  if (raw === undefined) return "<module>";
  // "Class.method", "new Class", "Object.fn [as alias]": the function's own name.
  const name = raw.replace(/ \[as [^\]]+\]$/, "").replace(/^new /, "");
  const dot = name.lastIndexOf(".");
  return dot < 0 ? name : name.slice(dot + 1);
}

/** The parts of V8's CallSite this module reads. */
interface CallSite {
  getFileName(): string | null | undefined;
  getScriptNameOrSourceURL?(): string | null | undefined;
  getLineNumber(): number | null;
  getFunctionName(): string | null;
  isToplevel(): boolean;
}

type ErrorWithHooks = ErrorConstructor & {
  prepareStackTrace?: (error: unknown, sites: CallSite[]) => unknown;
  stackTraceLimit: number;
};

function keepCallSites(_error: unknown, sites: CallSite[]): unknown {
  return sites;
}
