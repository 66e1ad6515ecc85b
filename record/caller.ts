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
 * tests, benchmarks and demo), whose log calls are callers like any other.
 */
const NOT_LIBRARY = /^(?:tests\/|bench\/|demo\.ts$)/;

/** Whether a file is the library's own: wherever it sits in the package. */
function isOwnFile(file: string): boolean {
  const rest = file.startsWith(OWN_ROOT)
    ? file.slice(OWN_ROOT.length)
    : file.startsWith(OWN_ROOT_PATH)
    ? file.slice(OWN_ROOT_PATH.length)
    : null;
  return rest !== null && !NOT_LIBRARY.test(rest);
}
/** Frames kept while looking for the caller. */
const STACK_LIMIT = 40;

/**
 * Finds the caller of the logging call: the first stack frame that is not
 * in this package, in @std/log or in LogTape (or in a file for which
 * `isLibraryFile` says true). Costs a stack capture: a few microseconds (see
 * `bench/caller_bench.ts`), which is why handlers only do it when asked
 * (`caller: true`).
 *
 * @example Where was I called from?
 * ```ts
 * import { findCaller } from "@pysocklog/pysocklog";
 *
 * function handle() {
 *   const info = findCaller();
 *   console.log(info?.funcName, info?.lineno); // "handle", the line of findCaller()
 * }
 * handle();
 * ```
 *
 * @param isLibraryFile Tells which further files are logging code to skip.
 * @returns The caller, or `undefined` when the stack holds only library frames.
 */
export function findCaller(
  isLibraryFile?: (file: string) => boolean,
): CallerInfo | undefined {
  const holder: { stack?: unknown } = {};
  const E = Error as ErrorWithHooks;
  const limit = E.stackTraceLimit;
  const prepare = E.prepareStackTrace;
  E.stackTraceLimit = STACK_LIMIT;
  E.prepareStackTrace = keepCallSites;
  try {
    Error.captureStackTrace(holder, findCaller);
    const sites = holder.stack;
    if (typeof sites === "string") return fromStackText(sites, isLibraryFile);
    if (!Array.isArray(sites)) return undefined;
    for (const site of sites as CallSite[]) {
      const file = site.getFileName() ?? site.getScriptNameOrSourceURL?.();
      if (!file) continue;
      if (isOwnFile(file) || LIBRARY_FILE.test(file)) continue;
      if (file.startsWith("ext:") || file.startsWith("node:")) continue;
      if (isLibraryFile?.(file)) continue;
      return {
        pathname: toPath(file),
        lineno: site.getLineNumber() ?? 0,
        funcName: site.getFunctionName() ??
          (site.isToplevel() ? "<module>" : "<anonymous>"),
      };
    }
    return undefined;
  } finally {
    E.stackTraceLimit = limit;
    E.prepareStackTrace = prepare;
  }
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
    if (isOwnFile(file) || LIBRARY_FILE.test(file)) continue;
    if (file.startsWith("ext:") || file.startsWith("node:")) continue;
    if (isLibraryFile?.(file)) continue;
    return {
      pathname: toPath(file),
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
