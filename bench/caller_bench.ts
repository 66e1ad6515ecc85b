// Copyright the pysocklog authors. MIT license.
// What caller info costs per record, against CPython's findCaller, side by
// side in one run: `deno task bench:caller`.
//
// Call sites: 384 distinct ones (bench/_caller_sites.ts: 8 transpiled
// modules x 8 kinds x 6: functions, methods, arrows, async functions, a
// user's helper, recursion, a native frame, static methods), taken in turn.
// Records: the varied corpus (bench/_corpus.ts, 20,000 records) without its
// pathname, lineno and funcName. Each record goes through a Handler's real
// handle() (default options otherwise), whose transport drops each batch.
// Per round, for ours:
//   - off: `caller: false`, the records as they are (Python sees
//     "(unknown file)":0);
//   - given: `caller: false`, each record given its site's pathname, lineno
//     and funcName by hand: what the encoder adds for carrying them;
//   - on: `caller: true`: the stack capture plus the encoder's part;
//   - findCaller(isLibraryFile) alone and findCallerAbove(handle) alone,
//     from the same sites, less an empty call of the same shape;
//   - the floor, step by step (V8's capture, Deno's wrap of one frame, its
//     source-mapped file and line, its function's name);
//   - LogTape and @std/log (where it resolves: run with an import map that
//     maps it): the sites call a logger's info(), off and on;
//   - with --before REV, REV's handle() and findCaller() side by side;
// and CPython's (bench/_py/caller_cpython.py, the same corpus records from
// the same kinds of sites through Logger.log, makeRecord, handle and
// SocketHandler.makePickle): with findCaller (its default) and without
// (logging._srcfile = None). "Added" is on less off, per round; the table
// gives the median of the rounds. Second row: one call site again and again.
// Every record is logged 12 frames deep (see STACK_DEPTH). Times are the
// process's CPU time (user + system), on both sides: on a shared machine,
// wall time counts the other processes' turns too (a loop here got 18% of a
// core's wall time while 4 other benchmarks ran).
//
// Options: --rounds R (default 11), --size N (records, default 20000),
// --before REV (a commit to measure alongside). Writes
// bench/results/caller.md.

import process from "node:process";
import { configure, getLogger, reset } from "@logtape/logtape";
import { type FrameBatch, Handler, type LogRecordInit } from "../mod.ts";
import { fromLogTapeRecord } from "../logtape.ts";
import { findCaller, findCallerAbove } from "../record/caller.ts";
import { type CallSite, makeCallSites } from "./_caller_sites.ts";
import { makeCorpus, toPythonJson } from "./_corpus.ts";
import {
  commit,
  cpuModel,
  loadAverage,
  median,
  option,
  pythonVersion,
} from "./_env.ts";

const ROUNDS = option("rounds", 11);
const SIZE = option("size", 20_000);
/** A commit to measure side by side with this tree (--before REV). */
const BEFORE = Deno.args.includes("--before")
  ? Deno.args[Deno.args.indexOf("--before") + 1]
  : undefined;
/** Modules of call sites, and sites of each kind per module. */
const FILES = 8;
const PER_KIND = 6;

type Handles = Parameters<CallSite["call"]>[0];

/**
 * Frames below the loop that logs. Deno has V8 collect at least 10 frames
 * of every stack it captures, however small Error.stackTraceLimit, so a
 * capture costs more the deeper the stack, up to 10 frames; a server's log
 * call (request handler, middleware, framework, Deno.serve) is deeper.
 */
const STACK_DEPTH = 12;

/** Runs `fn` with `depth` more frames below it. */
function atDepth<T>(depth: number, fn: () => T): T {
  return depth === 0 ? fn() : atDepth(depth - 1, fn);
}

/** A Handler class, of this tree or of an older commit's (`--before`). */
// deno-lint-ignore no-explicit-any
type HandlerClass = abstract new (...args: any[]) => Handler;

/** `Base` with a transport that takes every batch and drops it. */
function nullHandlerOn(Base: HandlerClass) {
  return class extends Base {
    protected ensureOpen(): Promise<boolean> {
      return Promise.resolve(true);
    }
    protected transmit(_batch: FrameBatch): Promise<void> {
      return Promise.resolve();
    }
    protected closeTransport(): void {}
    protected reconnectCount(): number {
      return 0;
    }
    protected isConnected(): boolean {
      return true;
    }
  };
}

/** A handler whose transport takes every batch and drops it. */
const NullHandler = nullHandlerOn(Handler);

async function main() {
  const { sites, dir } = await makeCallSites(FILES, PER_KIND);
  const corpus = makeCorpus({ size: SIZE, seed: 1 });
  const bare: LogRecordInit[] = corpus.map((r) => {
    const { pathname: _p, lineno: _l, funcName: _f, ...rest } = r;
    return rest;
  });
  const given: LogRecordInit[] = bare.map((r, i) => {
    const { pathname, lineno, funcName } = sites[i % sites.length];
    return { ...r, pathname, lineno, funcName };
  });

  const off = new NullHandler({ caller: false });
  const on = new NullHandler({ caller: true });

  /** µs per record of handling `records` from `from` (site i takes record i). */
  /** Every handler the paths feed: flushed after each timed pass. */
  const handlers: { flush(): Promise<void> }[] = [off, on];
  async function pass(
    h: Handles,
    records: LogRecordInit[],
    from: readonly CallSite[],
  ): Promise<number> {
    const n = from.length;
    const us = atDepth(STACK_DEPTH, () => {
      const t0 = process.cpuUsage();
      for (let i = 0; i < records.length; i++) {
        from[i % n].call(h, records[i] as Record<string, unknown>);
      }
      const t = process.cpuUsage(t0);
      return (t.user + t.system) / records.length;
    });
    for (const handler of handlers) await handler.flush();
    return us;
  }

  const here = new URL(import.meta.url).href;
  const isBench = (file: string) => file === here;
  const probe: Handles = {
    handle: (_r) => findCaller(isBench),
  };
  const empty: Handles = {
    handle: (_r) => undefined,
  };
  const stepTargets = STEPS.map((_, i) => step(i));
  const probeAbove: Handles = {
    handle(_r) {
      return findCallerAbove(probeAbove.handle);
    },
  };

  // CPython, with the same records, waiting for rounds.
  const corpusFile = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(corpusFile, toPythonJson(corpus));
  const py = new Deno.Command("python3", {
    args: [
      new URL("./_py/caller_cpython.py", import.meta.url).pathname,
      dir,
      String(FILES),
      String(PER_KIND),
      corpusFile,
    ],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const pyIn = py.stdin.getWriter();
  const pyLines = py.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  async function pyLine(): Promise<string> {
    while (!pending.includes("\n")) {
      const { value, done } = await pyLines.read();
      if (done) throw new Error("CPython's side ended early");
      pending += value;
    }
    const at = pending.indexOf("\n");
    const line = pending.slice(0, at);
    pending = pending.slice(at + 1);
    return line;
  }
  const pyInfo = JSON.parse(await pyLine()) as { sites: number };

  const one = [sites[0]];
  const paths: [string, () => Promise<number>][] = [
    ["off", () => pass(off, bare, sites)],
    ["given", () => pass(off, given, sites)],
    ["on", () => pass(on, bare, sites)],
    ["probe", () => pass(probe, bare, sites)],
    ["empty", () => pass(empty, bare, sites)],
    ["probeAbove", () => pass(probeAbove, bare, sites)],
    ...stepTargets.map((target, i): [string, () => Promise<number>] => [
      `step${i}`,
      () => pass(target, bare, sites),
    ]),
    ["oneOff", () => pass(off, bare, one)],
    ["oneOn", () => pass(on, bare, one)],
  ];
  // LogTape: the sites call a LogTape logger's info() (bound: no frame of
  // ours between), whose sink converts as the package's sinks do.
  await configure({
    sinks: {
      off: (r) => void off.handle(fromLogTapeRecord(r, { caller: false })),
      on: (r) => void on.handle(fromLogTapeRecord(r, { caller: true })),
    },
    loggers: [
      { category: ["off"], sinks: ["off"], lowestLevel: "trace" },
      { category: ["on"], sinks: ["on"], lowestLevel: "trace" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
    ],
  });
  const viaLogTape = (category: string): Handles => {
    const logger = getLogger([category]);
    return { handle: logger.info.bind(logger) as Handles["handle"] };
  };
  const [ltOff, ltOn] = [viaLogTape("off"), viaLogTape("on")];
  const before = BEFORE === undefined ? undefined : await beforePaths(BEFORE);
  if (before !== undefined) {
    handlers.push(
      before.off as unknown as Handler,
      before.on as unknown as Handler,
    );
    paths.push(["bOff", () => pass(before.off, bare, sites)]);
    paths.push(["bOn", () => pass(before.on, bare, sites)]);
    paths.push(["bProbe", () => pass(before.probe, bare, sites)]);
  }
  paths.push(["ltOff", () => pass(ltOff, bare, sites)]);
  paths.push(["ltOn", () => pass(ltOn, bare, sites)]);
  // @std/log, where it resolves: the sites call a std/log Logger's info().
  const std = await stdLogPaths();
  if (std !== undefined) {
    handlers.push(...std.handlers);
    paths.push(["stdOff", () => pass(std.off, bare, sites)]);
    paths.push(["stdOn", () => pass(std.on, bare, sites)]);
  }

  const rows: Record<string, number[]> = { pyOn: [], pyOff: [] };
  for (const [key, run] of paths) {
    rows[key] = [];
    await run(); // warm up every path once
  }
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? paths : [...paths].reverse();
    for (const [key, run] of order) rows[key].push(await run());
    await pyIn.write(new TextEncoder().encode("ROUND\n"));
    const r = JSON.parse(await pyLine()) as { on: number; off: number };
    rows.pyOn.push(r.on / 1000);
    rows.pyOff.push(r.off / 1000);
  }
  await reset();
  await pyIn.close();
  await py.status;
  await off.close();
  await on.close();
  await Deno.remove(dir, { recursive: true });
  if (before !== undefined) await before.close();
  await Deno.remove(corpusFile);

  const diff = (a: string, b: string) =>
    median(rows[a].map((x, i) => x - rows[b][i]));
  const m = (k: string) => median(rows[k]);
  const f = (x: number) => x.toFixed(2);
  const added = diff("on", "off");
  const pyAdded = diff("pyOn", "pyOff");
  const ratio = added / pyAdded;
  /** A row of an off/on pair: both medians and what `on` added. */
  const pair = (label: string, off: string, on: string) => [
    label,
    f(m(off)),
    f(m(on)),
    f(diff(on, off)),
    "",
    "",
  ];
  /** A row of a cost alone: `a` less `b`. */
  const cost = (label: string, a: string, b: string) => [
    label,
    "",
    "",
    f(diff(a, b)),
    "",
    "",
  ];
  const lines: string[][] = [
    [
      "CPU µs per record, median of rounds",
      "off",
      "on",
      "added",
      "CPython's",
      "ours/it",
    ],
    [
      `handle(), ${sites.length} sites, varied records`,
      f(m("off")),
      f(m("on")),
      f(added),
      f(pyAdded),
      `${f(ratio)}×`,
    ],
    pair("  of which the encoder's (given by hand)", "off", "given"),
    cost("  of which the stack's (on less given)", "on", "given"),
    cost("findCaller() alone, same sites", "probe", "empty"),
    cost("findCallerAbove(handle), as handlers call it", "probeAbove", "empty"),
    ...STEPS.map((label, i) =>
      cost(`  ${label}`, `step${i}`, i === 0 ? "empty" : `step${i - 1}`)
    ),
    cost("  the floor: all of the above", `step${STEPS.length - 1}`, "empty"),
    pair("LogTape info(), a sink as ours", "ltOff", "ltOn"),
  ];
  if (rows.stdOn !== undefined) {
    lines.push(pair("@std/log info(), ./std-log", "stdOff", "stdOn"));
  }
  if (rows.bOn !== undefined) {
    const b = `before (${BEFORE})`;
    lines.push(pair(`${b}: handle()`, "bOff", "bOn"));
    lines.push(cost(`${b}: findCaller() alone`, "bProbe", "empty"));
  }
  lines.push(pair("second row: one call site", "oneOff", "oneOn"));
  const widths = lines[0].map((_, c) =>
    Math.max(...lines.map((l) => l[c].length))
  );
  const cell = (x: string, c: number) =>
    c === 0 ? x.padEnd(widths[c]) : x.padStart(widths[c]);
  const table = [
    `| ${lines[0].map(cell).join(" | ")} |`,
    `| ${
      widths.map((w, c) => c === 0 ? "-".repeat(w) : "-".repeat(w - 1) + ":")
        .join(" | ")
    } |`,
    ...lines.slice(1).map((l) => `| ${l.map(cell).join(" | ")} |`),
  ];
  const env = `${await commit()}, ${cpuModel}, ${await pythonVersion()}, ` +
    `Deno ${Deno.version.deno}, load ${loadAverage()}, ${ROUNDS} rounds of ` +
    `${SIZE} records; CPython: ${pyInfo.sites} sites, off ${
      f(m("pyOff"))
    } µs, on ${f(m("pyOn"))} µs`;
  console.log(table.join("\n"));
  console.log(env);
  await Deno.writeTextFile(
    new URL("./results/caller.md", import.meta.url),
    `# Caller info per record (\`deno task bench:caller\`)\n\n${ABOUT}\n${
      table.join("\n")
    }\n\n${env}\n`,
  );
}

/**
 * Sites' targets for @std/log, caller off and on: a std/log Logger's info()
 * (bound), to the ./std-log handler over a NullHandler. Undefined where
 * @std/log does not resolve (run with an import map that maps it).
 */
async function stdLogPaths(): Promise<
  { off: Handles; on: Handles; handlers: Handler[] } | undefined
> {
  // Not literal specifiers: type-checking never needs @std/log.
  const STD_LOG = "@std/log";
  const ADAPTER = "../std_log.ts";
  let log, adapter;
  try {
    log = await import(STD_LOG);
    adapter = await import(new URL(ADAPTER, import.meta.url).href);
  } catch {
    console.log("(no @std/log here: its rows are left out)");
    return undefined;
  }
  const Adapter = adapter.CoreHandlerAdapter as new (
    level: string,
    formatter: undefined,
    caller: boolean,
    handler: Handler,
  ) => object;
  class NullStd extends Adapter {}
  const inner = [new NullHandler(), new NullHandler()];
  log.setup({
    handlers: {
      off: new NullStd("DEBUG", undefined, false, inner[0]),
      on: new NullStd("DEBUG", undefined, true, inner[1]),
    },
    loggers: {
      off: { level: "DEBUG", handlers: ["off"] },
      on: { level: "DEBUG", handlers: ["on"] },
    },
  });
  const via = (name: string): Handles => {
    const logger = log.getLogger(name);
    return { handle: logger.info.bind(logger) };
  };
  return { off: via("off"), on: via("on"), handlers: inner };
}

/**
 * The same paths with the code of commit `rev` (git archive into a
 * temporary folder), so that before and after run side by side.
 */
async function beforePaths(rev: string): Promise<
  { off: Handles; on: Handles; probe: Handles; close(): Promise<void> }
> {
  const tree = await Deno.makeTempDir({ prefix: "pysocklog_before_" });
  const root = new URL("..", import.meta.url).pathname;
  const out = await new Deno.Command("sh", {
    args: ["-c", `git -C '${root}' archive '${rev}' | tar -x -C '${tree}'`],
  }).output();
  if (!out.success) throw new Error(`git archive ${rev} failed`);
  const mod = await import(`file://${tree}/mod.ts`);
  const OldNull = nullHandlerOn(mod.Handler as HandlerClass);
  const off = new OldNull({ caller: false });
  const on = new OldNull({ caller: true });
  const oldFindCaller = mod.findCaller as typeof findCaller;
  const here = new URL(import.meta.url).href;
  return {
    off,
    on,
    probe: { handle: (_r) => oldFindCaller((file) => file === here) },
    async close() {
      await off.close();
      await on.close();
      await Deno.remove(tree, { recursive: true });
    },
  };
}

/** What bench/results/caller.md says above its table. */
const ABOUT =
  `Records of the varied corpus from 384 generated call sites (8 modules,
8 kinds), 12 frames deep, through a Handler's handle() whose transport drops
them: "off" is \`caller: false\`, "on" \`caller: true\`, "added" the median
of per-round differences. CPython's: Logger.log with findCaller less without
(logging._srcfile = None), the same records from the same kinds of sites, to a
SocketHandler whose send() drops the frame. Times are the process's CPU time
on both sides (wall time counts the other processes of a shared machine).
The indented rows split the stack's part: the floor is what any findCaller
must have Deno do for one frame. LogTape and @std/log rows: the sites call a
logger's info() (bound). "before": the commit given with --before, in the
same run.
`;

/** The floor, step by step: what any findCaller must have Deno do. */
const STEPS = [
  "V8 captures the stack (Error.captureStackTrace)",
  "Deno wraps 1 frame for prepareStackTrace",
  "its script name (getScriptNameOrSourceURL)",
  "its line, source-mapped (getLineNumber)",
  "its function's name (getFunctionName)",
];

interface CallSiteLike {
  getScriptNameOrSourceURL(): unknown;
  getLineNumber(): unknown;
  getFunctionName(): unknown;
}

/** A target that does the first `last + 1` STEPS from the caller's frame. */
function step(last: number): Handles {
  const E = Error as unknown as {
    prepareStackTrace?: unknown;
    stackTraceLimit: number;
  };
  const keep = (_: unknown, sites: unknown) => sites;
  const target: Handles = {
    handle(_r) {
      const [prepare, limit] = [E.prepareStackTrace, E.stackTraceLimit];
      if (last >= 1) E.prepareStackTrace = keep;
      E.stackTraceLimit = 1;
      const holder: { stack?: unknown } = {};
      Error.captureStackTrace(holder, target.handle);
      if (last >= 1) {
        const site = (holder.stack as CallSiteLike[])[0];
        if (last >= 2) site.getScriptNameOrSourceURL();
        if (last >= 3) site.getLineNumber();
        if (last >= 4) site.getFunctionName();
      }
      E.prepareStackTrace = prepare;
      E.stackTraceLimit = limit;
    },
  };
  return target;
}

if (import.meta.main) await main();
