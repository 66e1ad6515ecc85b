// CPython's logging.handlers.SocketHandler against ours, end to end, side by
// side in one run: `deno task bench:socket`.
//
// What a user gets: our SocketHandler with default options, fed the varied
// records of bench/_corpus.ts (10,000 distinct records taken in turn) by a
// caller that never awaits flush(): it logs and yields to the event loop
// with setImmediate after every E records (E = 100, 500, 2,000), as ordinary
// code does between bits of work, then awaits close(). CPython's
// SocketHandler (default settings) sends the same records from its own
// process: Logger.makeRecord with the corpus's call sites + Logger.handle,
// which is logger.info without findCaller, CPython's fastest way; and
// logger.log as Python programs log (findCaller on). Both go over loopback
// to one receiver in this process that reads as fast as it can and counts
// frames (walking the 4-byte length prefixes, telling our drop notices
// apart), so it is never the slower side.
//
// records/s: records delivered / (close() resolved - first log call), each
// sender timing itself. dropped: the handler's stats.dropped. lost: records
// neither delivered nor counted as dropped. Peak RSS: the sender's VmHWM.
// Log call: one call in 16 timed, median and p99.
//
// Second rows only (they flatter us): one record again and again (E = 500),
// the old bench's producer that heeds backpressure by hand (awaits
// flush() when half the queue is used), and a ceiling: the corpus's frames
// made beforehand and queued with send(), so that only encoding is missing.
//
// Options: --n N (burst records, default 200000), --every 100,500,2000,
// --big N (records of the long burst at E = 500, default 1000000; 0 skips),
// --rounds R (default 3; systems interleaved; the median run is reported),
// --memory (also: our sender's peak RSS at 1M against 10M records, E = 500;
// --memory-n 1000000,10000000 to change; with --rounds 0, only that, to
// bench/results/socket_memory.md). Writes bench/results/socket_compare.md.

import { runJsonProcess } from "./_compare/_sender.ts";
import { makeCorpus, toPythonJson } from "./_corpus.ts";
import {
  commit,
  cpuModel,
  loadAverage,
  median,
  pythonVersion,
} from "./_env.ts";

function arg(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}
function numbers(name: string, def: number[]): number[] {
  const v = arg(name);
  const xs = v === undefined ? def : v.split(",").map(Number);
  if (xs.some((x) => !Number.isSafeInteger(x) || x < 0)) {
    throw new RangeError(`--${name} takes non-negative integers`);
  }
  return xs;
}

const N = numbers("n", [200_000])[0];
const EVERY = numbers("every", [100, 500, 2_000]);
const BIG = numbers("big", [1_000_000])[0];
/** E of the long burst and of the memory check. */
const BIG_EVERY = 500;
const ROUNDS = numbers("rounds", [3])[0];
const MEMORY = Deno.args.includes("--memory");
const MEMORY_N = numbers("memory-n", [1_000_000, 10_000_000]);
/** The receiver calls a run over after this long without a byte. */
const IDLE_MS = 1_500;
/** Least time a sender may take before it is killed. */
const MIN_SENDER_TIMEOUT_MS = 120_000;
/** Records per second below which a sender is presumed stuck. */
const SLOWEST_RECORDS_PER_S = 20_000;
const SEED = 1;
/** Corpus records the senders take in turn (burst_sender.ts POOL). */
const POOL = 10_000;
const here = (p: string) => new URL(p, import.meta.url).pathname;

// ---- the receiver -------------------------------------------------------------

/** "pysocklog", the logger name of our drop notices. */
const NOTICE_NAME = new TextEncoder().encode("pysocklog");
/** A notice's name lies within this many bytes of its pickle's start. */
const HEAD = 40;

/**
 * Counts length-prefixed frames on every connection, reading as fast as it
 * can; frames whose first HEAD bytes hold "pysocklog" count as drop notices.
 */
class CountingSink {
  readonly listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  readonly port = (this.listener.addr as Deno.NetAddr).port;
  frames = 0;
  notices = 0;
  bytes = 0;

  constructor() {
    (async () => {
      for await (const conn of this.listener) this.#serve(conn);
    })().catch(() => {});
  }

  reset(): void {
    this.frames = 0;
    this.notices = 0;
    this.bytes = 0;
  }

  /** Records delivered: frames that are not notices. */
  get delivered(): number {
    return this.frames - this.notices;
  }

  /** Waits until `records` were delivered, or nothing came for IDLE_MS. */
  async settle(records: number): Promise<void> {
    let seen = -1;
    let since = Date.now();
    while (this.delivered < records) {
      if (this.bytes !== seen) {
        seen = this.bytes;
        since = Date.now();
      } else if (Date.now() - since > IDLE_MS) {
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(1 << 20);
    const head = new Uint8Array(HEAD);
    let headLen = 0;
    let header = 0;
    let headerBytes = 0;
    let body = 0; // bytes of the current frame's pickle still to come
    const endFrame = () => {
      this.frames++;
      if (isNotice(head, headLen)) this.notices++;
      headLen = 0;
    };
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        this.bytes += n;
        let i = 0;
        while (i < n) {
          if (body > 0) {
            const take = Math.min(body, n - i);
            if (headLen < HEAD) {
              const k = Math.min(HEAD - headLen, take);
              head.set(buf.subarray(i, i + k), headLen);
              headLen += k;
            }
            body -= take;
            i += take;
            if (body === 0) endFrame();
            continue;
          }
          header = (header << 8) | buf[i++];
          if (++headerBytes === 4) {
            body = header >>> 0;
            header = 0;
            headerBytes = 0;
            if (body === 0) endFrame();
          }
        }
      }
    } catch {
      // reset by the sender
    }
    try {
      conn.close();
    } catch {
      // closed
    }
  }
}

function isNotice(head: Uint8Array, len: number): boolean {
  outer: for (let i = 0; i + NOTICE_NAME.length <= len; i++) {
    for (let k = 0; k < NOTICE_NAME.length; k++) {
      if (head[i + k] !== NOTICE_NAME[k]) continue outer;
    }
    return true;
  }
  return false;
}

// ---- the senders ----------------------------------------------------------------

interface SenderReport {
  start: number;
  callsDone: number;
  done: number;
  medianNs: number;
  p99Ns: number;
  maxNs: number;
  rssKb: number;
  rssStartKb: number;
  stats: Record<string, number>;
}

interface Case {
  id: string;
  label: string;
  /** Records logged. */
  n: number;
  /** Records between yields; 0: not an event-loop caller. */
  every: number;
  /** Whether it is a second row (flatters us) rather than a lead row. */
  second: boolean;
  /** The CPython case this one is compared with. */
  base: string;
  cmd: (port: number) => string[];
}

interface Run {
  recsPerSec: number;
  delivered: number;
  notices: number;
  dropped: number | undefined;
  seconds: number;
  medianNs: number;
  p99Ns: number;
  maxNs: number;
  rssKb: number;
  rssStartKb: number;
  bytesPerRecord: number;
}

const corpusDir = await Deno.makeTempDir({ prefix: "pysocklog_socket_" });
const corpusJson = `${corpusDir}/corpus.json`;
await Deno.writeTextFile(
  corpusJson,
  toPythonJson(makeCorpus({ size: POOL, seed: SEED })),
);

function ours(mode: string, n: number, every: number): Case["cmd"] {
  return (port) => [
    Deno.execPath(),
    "run",
    "-A", // the sender reads /proc/self/status for its peak RSS
    here("./_compare/burst_sender.ts"),
    mode,
    String(port),
    String(n),
    String(every),
    String(SEED),
  ];
}
function cpython(mode: string, n: number): Case["cmd"] {
  return (port) => [
    "python3",
    here("./_compare/py_burst_sender.py"),
    mode,
    String(port),
    String(n),
    corpusJson,
  ];
}

const fmt = (x: number, digits = 0) =>
  x.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });

const sizes = BIG > 0 ? [N, BIG] : [N];
const cases: Case[] = [];
for (const n of sizes) {
  cases.push({
    id: `cpython-${n}`,
    label: "CPython SocketHandler (makeRecord + handle, no findCaller)",
    n,
    every: 0,
    second: false,
    base: `cpython-${n}`,
    cmd: cpython("record", n),
  });
}
cases.push({
  id: `cpython-log-${N}`,
  label: "CPython SocketHandler (logger.log, findCaller on: the default)",
  n: N,
  every: 0,
  second: false,
  base: `cpython-${N}`,
  cmd: cpython("log", N),
});
for (const e of EVERY) {
  cases.push({
    id: `ours-${N}-${e}`,
    label: "pysocklog SocketHandler.handle(), defaults, never awaits",
    n: N,
    every: e,
    second: false,
    base: `cpython-${N}`,
    cmd: ours("corpus", N, e),
  });
}
if (BIG > 0) {
  cases.push({
    id: `ours-${BIG}-${BIG_EVERY}`,
    label: "pysocklog SocketHandler.handle(), defaults, never awaits",
    n: BIG,
    every: BIG_EVERY,
    second: false,
    base: `cpython-${BIG}`,
    cmd: ours("corpus", BIG, BIG_EVERY),
  });
}
cases.push({
  id: `ours-one-${N}`,
  label: "pysocklog, one record again and again, never awaits",
  n: N,
  every: BIG_EVERY,
  second: true,
  base: `cpython-${N}`,
  cmd: ours("one", N, BIG_EVERY),
});
// A ceiling, not a figure users get: what the path carries with no
// encoding in the loop (the corpus's frames made beforehand, send()).
for (const n of sizes) {
  cases.push({
    id: `ours-frames-${n}`,
    label:
      "ceiling: the same records' frames made beforehand, send(), no encoding",
    n,
    every: BIG_EVERY,
    second: true,
    base: `cpython-${n}`,
    cmd: ours("frames", n, BIG_EVERY),
  });
}
cases.push({
  id: `ours-bp-${N}`,
  label: "pysocklog, one record, backpressure by hand (old figure)",
  n: N,
  every: 0,
  second: true,
  base: `cpython-${N}`,
  cmd: ours("backpressure", N, 0),
});

const sink = new CountingSink();
/** Every run, as printed: kept for the results file. */
const everyRun: string[] = [];
function note(line: string): void {
  everyRun.push(line);
  console.log(`  ${line}`);
}
const loadBefore = loadAverage();

async function run(c: Case): Promise<Run> {
  sink.reset();
  const timeout = Math.max(
    MIN_SENDER_TIMEOUT_MS,
    (c.n / SLOWEST_RECORDS_PER_S) * 1000,
  );
  const s = await runJsonProcess<SenderReport>(
    c.cmd(sink.port),
    c.label,
    {},
    timeout,
  );
  const dropped = s.stats?.dropped;
  await sink.settle(c.n - (dropped ?? 0));
  const seconds = (s.done - s.start) / 1000;
  return {
    recsPerSec: sink.delivered / seconds,
    delivered: sink.delivered,
    notices: sink.notices,
    dropped,
    seconds,
    medianNs: s.medianNs,
    p99Ns: s.p99Ns,
    maxNs: s.maxNs,
    rssKb: s.rssKb,
    rssStartKb: s.rssStartKb,
    bytesPerRecord: sink.bytes / Math.max(1, sink.frames),
  };
}

/** The run whose records/s is the median one. */
function medianRun(runs: Run[]): Run {
  const m = median(runs.map((r) => r.recsPerSec));
  return runs.find((r) => r.recsPerSec === m)!;
}

const caseName = (c: Case) => `${c.id}${c.every ? ` (E=${c.every})` : ""}`;

function describe(r: Run): string {
  return `${fmt(r.recsPerSec)} records/s, ${fmt(r.delivered)} delivered, ${
    r.dropped === undefined ? "–" : fmt(r.dropped)
  } dropped, ${r.notices} notices, ${fmt(r.seconds, 2)} s, RSS ${
    fmt(r.rssKb / 1024)
  } MB`;
}

console.log(
  `bench:socket: ${fmt(N)} records at E = ${EVERY.join(", ")}${
    BIG > 0 ? `, ${fmt(BIG)} at E = ${BIG_EVERY}` : ""
  }; ${ROUNDS} rounds, systems interleaved; receiver on port ${sink.port}`,
);
// Warm-up: file caches, Python's bytecode, Deno's module cache.
if (ROUNDS > 0) {
  await run({ ...cases[0], cmd: cpython("record", 20_000), n: 20_000 });
}
await run({ ...cases[0], cmd: ours("corpus", 20_000, 500), n: 20_000 });

const results = new Map<string, Run[]>(cases.map((c) => [c.id, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const c of cases) {
    const result = await run(c);
    results.get(c.id)!.push(result);
    note(`round ${r + 1} ${caseName(c)}: ${describe(result)}`);
  }
}

const memory: { n: number; run: Run }[] = [];
if (MEMORY) {
  for (const n of MEMORY_N) {
    const c: Case = {
      ...cases.find((c) => c.id.startsWith("ours-"))!,
      id: `memory-${n}`,
      n,
      every: BIG_EVERY,
      cmd: ours("corpus", n, BIG_EVERY),
    };
    const result = await run(c);
    memory.push({ n, run: result });
    note(`memory ${fmt(n)} (E=${BIG_EVERY}): ${describe(result)}`);
  }
}
sink.listener.close();
const loadAfter = loadAverage();
await Deno.remove(corpusDir, { recursive: true });

// ---- report -------------------------------------------------------------------

const mb = (kb: number) => fmt(kb / 1024);
const us = (ns: number) => fmt(ns / 1000, 1);
const pyVersion = await pythonVersion();

const lines: string[] = [];
lines.push(
  ROUNDS > 0
    ? "# CPython's SocketHandler against ours, end to end"
    : "# Our sender's memory over long runs",
);
lines.push("");
lines.push(
  `Produced by \`deno task ${
    ROUNDS > 0 ? "bench:socket" : "bench:socket:memory"
  }\` (bench/socket_compare.ts) on ${
    new Date().toISOString().slice(0, 16).replace("T", " ")
  } UTC, code at ${await commit()}: ${cpuModel}, ${navigator.hardwareConcurrency} cores, deno ${Deno.version.deno}, ${pyVersion}. ` +
    `The CPU was shared with other work while measuring (load average ${loadBefore} before, ${loadAfter} after): ` +
    `compare ratios within one run.`,
);
lines.push("");
if (ROUNDS > 0) {
  lines.push(
    `Varied records (bench/_corpus.ts, ${
      fmt(POOL)
    } distinct ones taken in turn, seed ${SEED}), each sender its own process, one receiver ` +
      `counting frames as fast as it reads; median of ${ROUNDS} runs, systems interleaved. ` +
      `Ours: default options, a caller that never awaits flush() and yields with setImmediate ` +
      `after every E records, then awaits close().`,
  );
}
const TABLE_HEAD = [
  "| sender | records | E | records/s | × CPython | delivered | dropped | lost | notices | peak RSS MB (at start) | log call median / p99 µs | bytes/frame |",
  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
];
/** Median over rounds of records/s over CPython's in the same round. */
const timesCPython = (c: Case) => {
  const base = results.get(c.base)!;
  return median(
    results.get(c.id)!.map((r, i) => r.recsPerSec / base[i].recsPerSec),
  );
};
// --rounds 0 (with --memory): the memory check alone.
for (const second of ROUNDS > 0 ? [false, true] : []) {
  lines.push("");
  if (second) {
    lines.push(
      "Second rows only (they flatter us: one record always hits the encoder's caches; the old producer awaited flush() by hand; the ceiling rows do no encoding at all, to show what the rest of the path carries):",
    );
    lines.push("");
  }
  lines.push(...TABLE_HEAD);
  for (const c of cases.filter((c) => c.second === second)) {
    const runs = results.get(c.id)!;
    const m = medianRun(runs);
    const drops = runs.map((r) => r.dropped ?? 0);
    // Delivered, dropped and lost: medians over runs (the median-rate run
    // need not be the median-drop one).
    const delivered = median(runs.map((r) => r.delivered));
    const lost = median(runs.map((r) => c.n - r.delivered - (r.dropped ?? 0)));
    lines.push(
      `| ${c.label} | ${fmt(c.n)} | ${c.every || "–"} | ${
        fmt(m.recsPerSec)
      } | ${fmt(timesCPython(c), 1)} | ${fmt(delivered)} | ${
        m.dropped === undefined
          ? "– (no count)"
          : `${fmt(median(drops))} (runs: ${
            drops.map((d) => fmt(d)).join(", ")
          })`
      } | ${fmt(lost)} | ${m.notices} | ${mb(m.rssKb)} (${
        mb(m.rssStartKb)
      }) | ${us(m.medianNs)} / ${us(m.p99Ns)} | ${fmt(m.bytesPerRecord)} |`,
    );
  }
}
if (memory.length > 0) {
  lines.push("");
  lines.push(
    `Long run memory: our sender alone, corpus records, E = ${BIG_EVERY}, defaults, one run each.`,
  );
  lines.push("");
  lines.push(
    "| records | peak RSS MB | RSS at start MB | records/s | delivered | dropped | seconds |",
  );
  lines.push("|---:|---:|---:|---:|---:|---:|---:|");
  for (const { n, run: r } of memory) {
    lines.push(
      `| ${fmt(n)} | ${mb(r.rssKb)} | ${mb(r.rssStartKb)} | ${
        fmt(r.recsPerSec)
      } | ${fmt(r.delivered)} | ${fmt(r.dropped ?? 0)} | ${
        fmt(r.seconds, 1)
      } |`,
    );
  }
  if (memory.length >= 2) {
    const a = memory[0].run.rssKb;
    const b = memory[memory.length - 1].run.rssKb;
    lines.push("");
    lines.push(
      `Peak RSS at ${fmt(memory[memory.length - 1].n)} is ${
        fmt(b / a, 2)
      }× that at ${fmt(memory[0].n)} (target of issue 11: within 1.10×).`,
    );
  }
}
lines.push("");
lines.push(
  "- records/s: records delivered, divided by the time from the sender's first log call to its `close()` returning.",
);
lines.push(
  "- × CPython: the median over rounds of records/s over that of CPython's makeRecord + handle row with the same record count in the same round (its fastest way to send these records).",
);
lines.push(
  "- records/s, × CPython, RSS and log call: the run with the median records/s; delivered, dropped (the handler's `stats.dropped`, then every run's) and lost (neither delivered nor counted): medians over runs; notices: drop-notice frames received (name `pysocklog`), not counted as delivered.",
);
lines.push(
  "- CPython's `sendall` blocks the caller until the kernel takes the bytes, so it cannot drop a record for lack of room; it has no event loop to yield to (E: –).",
);
lines.push(
  "- log call: one call in 16 timed in the sender (past 1M records, one in N/65,536: the memory check counts the timings' memory too) (a timer call costs about 80 ns in Deno); peak RSS: VmHWM of the sender (CPython: ru_maxrss); at start: its RSS before the first call (runtime, code, the 10,000-record pool: CPython's pool of dicts and LogRecords is the larger).",
);
lines.push("");
lines.push("Every run, in the order run:");
lines.push("");
lines.push("```", ...everyRun, "```");
const report = lines.join("\n") + "\n";
console.log("\n" + report);
await Deno.mkdir(here("./results"), { recursive: true });
// The memory check alone (--rounds 0) goes to a file of its own.
await Deno.writeTextFile(
  here(`./results/${ROUNDS > 0 ? "socket_compare" : "socket_memory"}.md`),
  report,
);
