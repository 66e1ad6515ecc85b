// makePickle against CPython, per record, on the same varied records, side by
// side in one run: `deno task bench:makepickle`.
//
// The records come from bench/_corpus.ts: the varied corpus first (10,000
// records: 50 loggers, 400 call sites, 12 message shapes, 0-6 extras of
// every kind, ~5% CJK, ~2% exceptions), then one row per category (cache
// miss, no extras, 20 extras, 10 KB CJK message, exceptions; the CJK one
// again with CPython given a new str each record, as a formatted message
// is: a str keeps its UTF-8 once pickled), then, as a
// second rows only, one record encoded again and again (the best case: the
// encoder's caches always hit), as a partial record and as a complete one
// made once by makeLogRecord (the old one-record figure). For each:
//   - ours: makePickle(record) from the partial record, as handlers get it
//     (filling the standard keys, formatting the message, framing);
//   - CPython 3 C pickler: pickle.dumps(d, 2) of the dict ours pickles;
//   - CPython's SocketHandler.makePickle(record) (dict copy, getMessage,
//     pickle.dumps(d, 1), length prefix) on a LogRecord of the same record.
// CPython also checks that pickle.loads of each of our frames equals its
// dict, types included ("same records" column). The corpus rows' JSON for
// CPython is made in a process of its own (bench/_corpus_json.ts): it runs
// makeLogRecord on every record, which a handler's handle() never does.
// Median ns per record of ROUNDS rounds, as process CPU time (the lead
// table: on a shared machine, wall clock also measures the scheduler) and
// as wall clock; CPython runs in its own process, and the rounds alternate
// (ours, CPython's, row by row), so that both see the same load.
//
// Options: --rounds R (default 9), --size N (varied corpus records, default
// 10000; categories get N/5), --min M (records per round, default 20000),
// --seed S (default 1). Writes bench/results/makepickle.md.

import process from "node:process";
import { makeLogRecord, makePickle } from "../mod.ts";
import {
  CORPUS_CATEGORIES,
  type CorpusCategory,
  makeCorpus,
  toPythonJson,
} from "./_corpus.ts";
import type { LogRecordInit } from "../mod.ts";
import {
  commit,
  cpuModel,
  loadAverage,
  median,
  option,
  pythonVersion,
} from "./_env.ts";

const ROUNDS = option("rounds", 9);
const SIZE = option("size", 10_000);
const MIN_RECORDS = option("min", 20_000);
const SEED = option("seed", 1);
/** Records per round of the one-record row (its rounds are short). */
const BEST_CASE_RECORDS = 100_000;
const here = (p: string) => new URL(p, import.meta.url).pathname;

/** The record of the old one-record figure. */
const ONE_RECORD: LogRecordInit = {
  name: "bench",
  msg: "request 1 handled in 1.500 ms for user alice",
  levelno: 20,
  pathname: "/srv/app/server.ts",
  lineno: 120,
  funcName: "handle",
  created: 1_795_000_000.5,
};

interface Row {
  id: string;
  label: string;
  records: LogRecordInit[];
  min: number;
  /** How a corpus row's records were made (made again for CPython). */
  corpus?: { category: CorpusCategory; size: number };
}

const LABELS: Record<CorpusCategory, string> = {
  "varied": "varied records (the corpus)",
  "no-extras": "the same without extras",
  "cache-miss": "cache miss: every record a new logger and call site",
  "many-extras": "20 extra keys",
  "long-text": "10 KB of CJK text in msg",
  "exceptions": "exc_info Error, 20-frame stack",
};

const rows: Row[] = CORPUS_CATEGORIES.map((c) => {
  const size = c === "varied" ? SIZE : Math.max(1, Math.floor(SIZE / 5));
  return {
    id: c,
    label: LABELS[c],
    records: makeCorpus({ category: c, seed: SEED, size }),
    min: MIN_RECORDS,
    corpus: { category: c, size },
  };
});
// The same records, CPython given a new msg str each time (its str keeps
// its UTF-8 once pickled, so the row above is a constant message to it).
const longText = rows.find((r) => r.id === "long-text")!;
rows.push({
  ...longText,
  id: "long-text-fresh",
  label: "10 KB of CJK text in msg, formatted anew (a new str each record)",
});
rows.push({
  id: "one-partial",
  label: "best case: one partial record again and again",
  records: [ONE_RECORD],
  min: BEST_CASE_RECORDS,
}, {
  id: "one-complete",
  label: "best case: one makeLogRecord() record again and again (old figure)",
  records: [makeLogRecord(ONE_RECORD)],
  min: BEST_CASE_RECORDS,
});

let sink = 0;
/** [wall, process CPU] ns per record of each round over `row`. */
function timeOurs(row: Row, rounds: number): Times[] {
  const passes = Math.max(1, Math.ceil(row.min / row.records.length));
  const recs = row.records;
  const times: Times[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (let p = 0; p < passes; p++) {
      for (let i = 0; i < recs.length; i++) sink += makePickle(recs[i]).length;
    }
    const c = process.cpuUsage(c0);
    const n = passes * recs.length;
    times.push([
      ((performance.now() - t0) * 1e6) / n,
      ((c.user + c.system) * 1e3) / n,
    ]);
  }
  return times;
}

/** ns per record: wall clock, then process CPU time (user + system). */
type Times = [number, number];
const WALL = 0;
const CPU = 1;

interface PyInfo {
  records: number;
  bytes: number;
  bytesMakePickle: number;
  equal?: number;
}

interface PyRound {
  dumps2: Times;
  makePickle: Times;
}

/** This process's start, as makeLogRecord's relativeCreated counts from it (ms). */
const START_MS = 1e12 - makeLogRecord({ created: 1e9 }).relativeCreated;

/**
 * The JSON of another process with relativeCreated and process as this
 * process's makeLogRecord gives them (relativeCreated by the same float
 * operations: `created * 1000 - start`), so that CPython compares our
 * frames with the same dicts.
 */
function ownRelativeCreated(text: string): string {
  type PyFloat = number | { __py__: string; v: string };
  const items = JSON.parse(text) as { d: Record<string, PyFloat> }[];
  for (const { d } of items) {
    const c = d.created;
    const created = typeof c === "number" ? c : Number(c.v);
    const rc = created * 1000 - START_MS;
    d.relativeCreated = Number.isInteger(rc)
      ? { __py__: "float", v: String(rc) }
      : rc;
    d.process = Deno.pid;
  }
  return JSON.stringify(items);
}

const dir = await Deno.makeTempDir({ prefix: "pysocklog_bench_" });
const pyArgs: string[] = [];
const oursBytes = new Map<string, number>();
for (const row of rows) {
  const json = `${dir}/${row.id}.json`;
  const bin = `${dir}/${row.id}.bin`;
  if (row.corpus === undefined) {
    await Deno.writeTextFile(json, toPythonJson(row.records));
  } else {
    // In a process of its own (see bench/_corpus_json.ts).
    const { category, size } = row.corpus;
    const made = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        `--allow-write=${dir}`,
        here("./_corpus_json.ts"),
        category,
        String(SEED),
        String(size),
        json,
      ],
    }).output();
    if (!made.success) throw new Error(`_corpus_json.ts failed for ${row.id}`);
    await Deno.writeTextFile(
      json,
      ownRelativeCreated(await Deno.readTextFile(json)),
    );
  }
  const frames = row.records.map((r) => makePickle(r));
  const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let o = 0;
  for (const f of frames) {
    all.set(f, o);
    o += f.length;
  }
  await Deno.writeFile(bin, all);
  oursBytes.set(row.id, all.length / frames.length);
  pyArgs.push(`${row.id}=${json}:${bin}`);
}

console.log(
  `bench:makepickle: ${ROUNDS} rounds of >= ${MIN_RECORDS} records per row, seed ${SEED}`,
);
const child = new Deno.Command("python3", {
  args: [here("./_py/makepickle_cpython.py"), String(MIN_RECORDS), ...pyArgs],
  stdin: "piped",
  stdout: "piped",
}).spawn();
const toPy = child.stdin.getWriter();
const fromPy = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
let pending = "";
/** The next JSON line CPython prints. */
async function readPy<T>(): Promise<T> {
  while (!pending.includes("\n")) {
    const { value, done } = await fromPy.read();
    if (done) throw new Error("python3 ended early (see its stderr above)");
    pending += value;
  }
  const nl = pending.indexOf("\n");
  const line = pending.slice(0, nl);
  pending = pending.slice(nl + 1);
  return JSON.parse(line);
}
const pyInfo: Record<string, PyInfo> = await readPy();
const loadBefore = loadAverage();
for (const row of rows) timeOurs(row, 2); // warm-up: JIT, caches
const ours = new Map<string, Times[]>(rows.map((r) => [r.id, []]));
const py = new Map<string, PyRound[]>(rows.map((r) => [r.id, []]));
// Rounds interleaved row by row: ours, CPython, ours, ...
for (let r = 0; r < ROUNDS; r++) {
  for (const row of rows) {
    ours.get(row.id)!.push(...timeOurs(row, 1));
    await toPy.write(new TextEncoder().encode(`ROUND ${row.id}\n`));
    py.get(row.id)!.push(await readPy<PyRound>());
  }
}
await toPy.close();
const loadAfter = loadAverage();
await child.status;
await Deno.remove(dir, { recursive: true });
if (sink === 0) throw new Error("unreachable");

const fmt = (x: number, digits = 0) =>
  x.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
const us = (ns: number) => fmt(ns / 1000, 2);
/**
 * "2.10× faster" or "1.70× slower": the median over rounds of CPython's time
 * over ours in the same round (paired, so that load shared by both cancels).
 */
function ratio(theirs: number[], mine: number[]): string {
  const r = median(theirs.map((t, i) => t / mine[i]));
  return r >= 1 ? `${fmt(r, 2)}× faster` : `${fmt(1 / r, 2)}× slower`;
}

const pyVersion = await pythonVersion();

const lines: string[] = [];
lines.push("# makePickle against CPython, per record");
lines.push("");
lines.push(
  `Produced by \`deno task bench:makepickle\` (bench/makepickle_compare.ts) on ${
    new Date().toISOString().slice(0, 16).replace("T", " ")
  } UTC, code at ${await commit()}: ${cpuModel}, ${navigator.hardwareConcurrency} cores, deno ${Deno.version.deno}, ${pyVersion}. ` +
    `The CPU was shared with other work while measuring (load average ${loadBefore} before, ${loadAfter} after): ` +
    `compare ratios, not absolute times.`,
);
lines.push("");
lines.push(
  `CPU time: median µs of process CPU time (user + system) per record of ${ROUNDS} rounds, ` +
    `each round at least ${
      fmt(MIN_RECORDS)
    } records; corpus seed ${SEED}. On a shared machine this is the encoders' own cost; ` +
    `wall-clock figures of the same rounds follow. "same records": how many of our ` +
    `frames CPython's pickle.loads turns into exactly the dict it pickled itself. ` +
    `"ours vs it": the median of the per-round ratios (each round's CPython time over ours).`,
);
function table(k: number): void {
  lines.push("");
  lines.push(
    "| records | n | ours µs | C pickle.dumps(d, 2) µs | ours vs it | CPython makePickle µs | ours vs it | bytes ours / CPython | same records |",
  );
  lines.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const row of rows) {
    const mine = ours.get(row.id)!.map((t) => t[k]);
    const rounds = py.get(row.id)!;
    const dumps2 = rounds.map((x) => x.dumps2[k]);
    const pyMake = rounds.map((x) => x.makePickle[k]);
    const info = pyInfo[row.id];
    lines.push(
      `| ${row.label} | ${fmt(row.records.length)} | ${us(median(mine))} | ${
        us(median(dumps2))
      } | ${ratio(dumps2, mine)} | ${us(median(pyMake))} | ${
        ratio(pyMake, mine)
      } | ${fmt(oursBytes.get(row.id)!)} / ${fmt(info.bytes)} | ${
        fmt(info.equal ?? 0)
      }/${fmt(row.records.length)} |`,
    );
  }
}
lines.push("");
lines.push("## CPU time per record");
table(CPU);
lines.push("");
lines.push("## Wall clock per record (the same rounds)");
table(WALL);
lines.push("");
lines.push(
  "- ours: `makePickle(partial)`, the record as a handler gets it: standard keys filled, message formatted, frame length included.",
);
lines.push(
  "- C pickle.dumps(d, 2): the C pickler on the finished dict (message already formatted), no framing: a floor, not a handler.",
);
lines.push(
  "- CPython makePickle: `logging.handlers.SocketHandler.makePickle(record)` on a LogRecord of the same record (it formats the message, pickles with protocol 1 and frames). The exception rows give it `exc_text` already formatted (JSON cannot carry a traceback); ours formats the Error's stack.",
);
lines.push(
  '- 10 KB of CJK text: the message is a constant, and a Python str keeps its UTF-8 once pickled, so after the first pass CPython copies it; "formatted anew" gives CPython a new equal str for each record (made before its clock starts), as `msg % args` makes one. Ours encodes the text every time in both rows.',
);
lines.push(
  "- CPython's bytes are `pickle.dumps(d, 2)` plus the 4-byte prefix: it memoizes every key (BINPUT), ours does not.",
);
const report = lines.join("\n") + "\n";
console.log("\n" + report);
await Deno.mkdir(here("./results"), { recursive: true });
await Deno.writeTextFile(here("./results/makepickle.md"), report);
