// CPython's logging.handlers.SocketHandler against ours, side by side in one
// run: `deno task bench:socket`.
//
// The same records (message "request <seq> handled in 1.500 ms for user
// alice", extras seq and user) go over loopback to one frame-counting sink,
// this process, which walks the 4-byte length prefixes and parses nothing
// else (so that it is never the slower side). Each sender is its own process:
//   - CPython 3 SocketHandler through logger.info, as Python programs log
//     (findCaller on, CPython's default), and with logging._srcfile = None
//     (no findCaller: CPython's fastest setting);
//   - ours: SocketHandler.handle(), from a producer that heeds backpressure
//     (after every 1,000 records it awaits flush() when half the queue is
//     used; CPython's sendall blocks instead).
// records/s = records / (last byte at the sink - the sender's first call),
// for a fresh process (cold: V8 compiles our code as it runs) and after
// WARMUP records the sender logs and flushes before its clock starts (warm:
// what a long-running service sees; CPython 3.11 has no JIT to warm).
// Then the sink stalls: it stops reading for 2 s once half the records
// arrived, while each sender logs on (ours yielding 1 ms every 1,000
// records, as a service between requests does): the cost of one log call
// (median, p99, from every call) and what arrived.
//
// Environment: BENCH_N (records per run, default 200000), BENCH_RUNS (runs
// per system, interleaved; the median run is reported; default 5),
// BENCH_WARMUP (default 50000).
// Writes bench/results/socket_compare.md.

import { runJsonProcess } from "./_compare/_sender.ts";

const N = Number(Deno.env.get("BENCH_N") ?? 200_000);
const RUNS = Number(Deno.env.get("BENCH_RUNS") ?? 5);
const WARMUP = Number(Deno.env.get("BENCH_WARMUP") ?? 50_000);
const STALL_MS = 2_000;
/** Runs of the stall scenario per system (each takes 2 s more). */
const STALL_RUNS = 3;
/** The sink waits this long without a byte before it calls a run over. */
const IDLE_MS = 1_500;
const SENDER_TIMEOUT_MS = 120_000;
const here = (p: string) => new URL(p, import.meta.url).pathname;
const now = () => performance.timeOrigin + performance.now();

// ---- the sink ---------------------------------------------------------------

/** Counts length-prefixed frames on every connection; can stall once. */
class CountingSink {
  readonly listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  readonly port = (this.listener.addr as Deno.NetAddr).port;
  frames = 0;
  bytes = 0;
  /** Frames whose pickle does not start as a pickle does (PROTO, or `}`). */
  bad = 0;
  lastAt = 0;
  #stallAt = Infinity;
  #stalling: Promise<void> | null = null;

  constructor() {
    (async () => {
      for await (const conn of this.listener) this.#serve(conn);
    })().catch(() => {});
  }

  /** Starts a run: counts from zero; stalls once `stallAt` frames arrived. */
  reset(stallAt = Infinity): void {
    this.frames = 0;
    this.bytes = 0;
    this.bad = 0;
    this.lastAt = 0;
    this.#stallAt = stallAt;
    this.#stalling = null;
  }

  /** Waits until `frames` arrived, or nothing came for IDLE_MS. */
  async settle(frames: number): Promise<void> {
    let seen = -1;
    let since = Date.now();
    while (this.frames < frames) {
      if (this.frames !== seen) {
        seen = this.frames;
        since = Date.now();
      } else if (
        Date.now() - since > IDLE_MS + (this.#stalling ? STALL_MS : 0)
      ) {
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(1 << 20);
    let header = 0;
    let headerBytes = 0;
    let body = 0; // bytes of the current frame's pickle still to come
    let first = false; // the next byte is the first of a pickle
    try {
      for (;;) {
        if (this.frames >= this.#stallAt && this.#stalling === null) {
          this.#stalling = new Promise((r) => setTimeout(r, STALL_MS));
          await this.#stalling;
        }
        const n = await conn.read(buf);
        if (n === null) break;
        this.lastAt = now();
        this.bytes += n;
        let i = 0;
        while (i < n) {
          if (body > 0) {
            if (first) {
              if (buf[i] !== PROTO && buf[i] !== EMPTY_DICT) this.bad++;
              first = false;
            }
            const take = Math.min(body, n - i);
            body -= take;
            i += take;
            if (body === 0) this.frames++;
            continue;
          }
          header = (header << 8) | buf[i++];
          if (++headerBytes === 4) {
            body = header >>> 0;
            header = 0;
            headerBytes = 0;
            first = true;
            if (body === 0) this.frames++;
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

const PROTO = 0x80;
const EMPTY_DICT = 0x7d;

// ---- the senders --------------------------------------------------------------

interface SenderReport {
  start: number;
  medianNs: number;
  p99Ns: number;
  maxNs: number;
  rssKb: number;
  stats: Record<string, number>;
}

interface System {
  id: string;
  label: string;
  /**
   * The command for a run of `n` records after `warmup` ones; `stall`: the
   * paced variant.
   */
  cmd: (port: number, n: number, stall: boolean, warmup: number) => string[];
  /** Whether it runs in the stall scenario. */
  stall: boolean;
}

const systems: System[] = [
  {
    id: "cpython",
    label: "CPython SocketHandler (logger.info, findCaller on: the default)",
    cmd: (port, n, _stall, warmup) => [
      "python3",
      here("./_compare/py_sender.py"),
      "plain",
      String(port),
      String(n),
      "0",
      String(warmup),
    ],
    stall: true,
  },
  {
    id: "cpython-nocaller",
    label: "CPython SocketHandler (logger.info, logging._srcfile = None)",
    cmd: (port, n, _stall, warmup) => [
      "python3",
      here("./_compare/py_sender.py"),
      "nocaller",
      String(port),
      String(n),
      "0",
      String(warmup),
    ],
    stall: false,
  },
  {
    id: "ours",
    label: "pysocklog SocketHandler (handle())",
    cmd: (port, n, stall, warmup) => [
      Deno.execPath(),
      "run",
      "-A", // the sender reads /proc/self/status for its peak RSS
      here("./_compare/deno_sender.ts"),
      "plain",
      String(port),
      String(n),
      stall ? "0" : "-1",
      String(warmup),
    ],
    stall: true,
  },
];

async function runSender(
  sys: System,
  port: number,
  n: number,
  stall: boolean,
  warmup: number,
): Promise<SenderReport> {
  return await runJsonProcess<SenderReport>(
    sys.cmd(port, n, stall, warmup),
    sys.label,
    {},
    SENDER_TIMEOUT_MS,
  );
}

interface Run {
  recsPerSec: number;
  frames: number;
  bad: number;
  bytesPerRecord: number;
  medianNs: number;
  p99Ns: number;
  maxNs: number;
  rssKb: number;
  /** The handler's own count of dropped records, where it keeps one. */
  dropped: number | undefined;
}

async function run(
  sink: CountingSink,
  sys: System,
  n: number,
  stall: boolean,
  warmup = 0,
): Promise<Run> {
  sink.reset(stall ? n / 2 : Infinity);
  const s = await runSender(sys, sink.port, n, stall, warmup);
  await sink.settle(warmup + n);
  const frames = sink.frames - warmup;
  return {
    recsPerSec: frames / ((sink.lastAt - s.start) / 1000),
    frames,
    bad: sink.bad,
    bytesPerRecord: sink.bytes / Math.max(1, sink.frames),
    medianNs: s.medianNs,
    p99Ns: s.p99Ns,
    maxNs: s.maxNs,
    rssKb: s.rssKb,
    dropped: s.stats?.dropped,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** The run whose records/s is the median one. */
function medianRun(runs: Run[]): Run {
  const m = median(runs.map((r) => r.recsPerSec));
  return runs.find((r) => r.recsPerSec === m)!;
}

// ---- run everything ---------------------------------------------------------

const fmt = (x: number, digits = 0) =>
  x.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
const us = (ns: number) => fmt(ns / 1000, 1);
const mb = (kb: number) => fmt(kb / 1024);

const sink = new CountingSink();
console.log(
  `bench:socket: ${
    fmt(N)
  } records per run, ${RUNS} runs per system (interleaved), sink on port ${sink.port}`,
);
// Warm-up: caches, JIT, Python's bytecode.
for (const sys of systems) await run(sink, sys, Math.min(N, 20_000), false);

const cold = new Map<string, Run[]>(systems.map((s) => [s.id, []]));
const warm = new Map<string, Run[]>(systems.map((s) => [s.id, []]));
for (let r = 0; r < RUNS; r++) {
  for (const sys of systems) {
    for (const [runs, warmup] of [[cold, 0], [warm, WARMUP]] as const) {
      const result = await run(sink, sys, N, false, warmup);
      runs.get(sys.id)!.push(result);
      console.log(
        `  run ${r + 1} ${sys.id} ${warmup ? "warm" : "cold"}: ${
          fmt(result.recsPerSec)
        } records/s (${fmt(result.frames)} frames${
          result.bad ? `, ${result.bad} bad` : ""
        })`,
      );
    }
  }
}
const stalled = new Map<string, Run[]>();
for (let r = 0; r < STALL_RUNS; r++) {
  for (const sys of systems.filter((s) => s.stall)) {
    const result = await run(sink, sys, N, true);
    if (!stalled.has(sys.id)) stalled.set(sys.id, []);
    stalled.get(sys.id)!.push(result);
    console.log(
      `  stalled run ${r + 1} ${sys.id}: log call median ${
        us(result.medianNs)
      } µs, p99 ${us(result.p99Ns)} µs, max ${us(result.maxNs)} µs, ${
        fmt(result.frames)
      } arrived`,
    );
  }
}
sink.listener.close();

const baseCold = medianRun(cold.get("cpython")!).recsPerSec;
const baseWarm = medianRun(warm.get("cpython")!).recsPerSec;
const lines: string[] = [];
lines.push("# CPython's SocketHandler against ours");
lines.push("");
lines.push(
  `Produced by \`deno task bench:socket\` (bench/socket_compare.ts) on ${
    new Date().toISOString().slice(0, 16).replace("T", " ")
  } UTC: deno ${Deno.version.deno}, ${
    new TextDecoder().decode(
      (await new Deno.Command("python3", { args: ["--version"] }).output())
        .stdout,
    ).trim()
  }, ${navigator.hardwareConcurrency} cores.`,
);
lines.push("");
lines.push(
  `${
    fmt(N)
  } records per run to one frame-counting sink; median of ${RUNS} runs, systems interleaved. Cold: a fresh process's first ${
    fmt(N)
  } records. Warm: the ${fmt(N)} records after ${
    fmt(WARMUP)
  } the sender logged and flushed first.`,
);
lines.push("");
lines.push(
  "| system | records/s warm | × CPython warm | records/s cold | × CPython cold | log call median µs | p99 µs | bytes/record | peak RSS MB | records arrived |",
);
lines.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const sys of systems) {
  const w = medianRun(warm.get(sys.id)!);
  const c = medianRun(cold.get(sys.id)!);
  lines.push(
    `| ${sys.label} | ${fmt(w.recsPerSec)} | ${
      fmt(w.recsPerSec / baseWarm, 1)
    } | ${fmt(c.recsPerSec)} | ${fmt(c.recsPerSec / baseCold, 1)} | ${
      us(w.medianNs)
    } | ${us(w.p99Ns)} | ${fmt(w.bytesPerRecord)} | ${mb(w.rssKb)} | ${
      fmt(w.frames)
    }/${fmt(N)}${w.bad ? ` (${w.bad} bad)` : ""} |`,
  );
}
lines.push("");
lines.push(
  `Stalled receiver: the sink stops reading for ${
    STALL_MS / 1000
  } s once half the records arrived; median of ${STALL_RUNS} runs.`,
);
lines.push("");
lines.push(
  "| system | log call median µs | p99 µs | max µs | peak RSS MB | records arrived | lost | counted in stats.dropped |",
);
lines.push("|---|---:|---:|---:|---:|---:|---:|---:|");
for (const sys of systems.filter((s) => s.stall)) {
  const runs = stalled.get(sys.id)!;
  const p99 = median(runs.map((r) => r.p99Ns));
  const m = runs.find((r) => r.p99Ns === p99)!;
  lines.push(
    `| ${sys.label} | ${us(m.medianNs)} | ${us(m.p99Ns)} | ${us(m.maxNs)} | ${
      mb(m.rssKb)
    } | ${fmt(m.frames)}/${fmt(N)} | ${fmt(N - m.frames)} | ${
      m.dropped === undefined ? "– (no count kept)" : fmt(m.dropped)
    } |`,
  );
}
lines.push("");
lines.push(
  "- records/s: records that arrived, divided by the time from the sender's first log call to the last byte at the sink.",
);
lines.push(
  "- log call: one `logger.info()` (CPython) or `handle()` (ours), timed in the sender; ours times one call in 16 in the first table (a timer call costs about 80 ns).",
);
lines.push(
  "- While the receiver stalls, CPython blocks the log call in `sendall` until its socket's 1 s timeout, then drops the record being sent, silently, and reconnects (logging/handlers.py `send`: `except OSError: self.sock.close()`); ours never blocks, keeps at most 10,000 records (8 MiB) queued and drops the newest past that, counted in `stats.dropped`.",
);
const report = lines.join("\n") + "\n";
console.log("\n" + report);
const oursWarm = medianRun(warm.get("ours")!).recsPerSec;
const oursCold = medianRun(cold.get("ours")!).recsPerSec;
console.log(
  `ours / CPython: warm ${fmt(oursWarm / baseWarm, 2)}x (${fmt(oursWarm)} vs ${
    fmt(baseWarm)
  } records/s), cold ${fmt(oursCold / baseCold, 2)}x (${fmt(oursCold)} vs ${
    fmt(baseCold)
  })`,
);
await Deno.mkdir(here("./results"), { recursive: true });
await Deno.writeTextFile(here("./results/socket_compare.md"), report);
