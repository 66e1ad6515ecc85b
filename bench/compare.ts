// Measured against peers, side by side in one run: `deno task bench:compare`.
//
// Every system logs the same records (message "request <seq> handled in
// 1.500 ms for user alice", extras seq and user) over loopback to the same
// sink process (bench/_compare/sink.ts), each system in its own process:
//   - CPython's logging.handlers.SocketHandler, and QueueHandler +
//     QueueListener in front of it (CPython's answer to blocking);
//   - ours: SocketHandler, via @std/log (where it resolves), via LogTape;
//   - Node's pino + pino-socket (TCP) and LogTape's @logtape/syslog (TCP),
//     installed from npm by this script into ~/.cache/pysocklog-bench.
// Three scenarios: a receiver that keeps up; one that stalls for 2 s
// mid-run; one restarted 10 times during the run. Each is run RUNS times,
// systems interleaved, and the median run is reported. Writes
// bench/results/compare.md and bench/results/compare.svg.
//
// Environment: BENCH_N (records per run, default 100000), BENCH_RUNS
// (default 3), PYSOCKLOG_IMPORT_MAP (an import map for @std/log, where JSR
// is out of reach).

import { runJsonProcess } from "./_compare/_sender.ts";

const N = Number(Deno.env.get("BENCH_N") ?? 100_000);
const RUNS = Number(Deno.env.get("BENCH_RUNS") ?? 3);
const RESTARTS = 10;
const STALL_MS = 2_000;
const SENDER_TIMEOUT_MS = 120_000;
const here = (p: string) => new URL(p, import.meta.url).pathname;
const CACHE = `${Deno.env.get("HOME") ?? "/tmp"}/.cache/pysocklog-bench`;
const NPM_PEERS = ["pino@10", "pino-socket@8"];

interface System {
  id: string;
  label: string;
  proto: "pickle" | "lines";
  cmd: (port: number, pace: number) => string[];
  unavailable?: string;
}

const deno = Deno.execPath();
const importMap = Deno.env.get("PYSOCKLOG_IMPORT_MAP");
const denoSender = (mode: string) => (port: number, pace: number) => [
  deno,
  "run",
  "-A", // the sender reads /proc/self/status for its peak RSS
  ...(importMap && mode === "stdlog" ? [`--import-map=${importMap}`] : []),
  here("./_compare/deno_sender.ts"),
  mode,
  String(port),
  String(N),
  String(pace),
];
const pySender = (mode: string) => (port: number, pace: number) => [
  "python3",
  here("./_compare/py_sender.py"),
  mode,
  String(port),
  String(N),
  String(pace),
];

const systems: System[] = [
  {
    id: "cpython",
    label: "CPython SocketHandler",
    proto: "pickle",
    cmd: pySender("plain"),
  },
  {
    id: "cpython-queue",
    label: "CPython QueueHandler+Listener",
    proto: "pickle",
    cmd: pySender("queue"),
  },
  {
    id: "ours",
    label: "pysocklog SocketHandler",
    proto: "pickle",
    cmd: denoSender("plain"),
  },
  {
    id: "ours-stdlog",
    label: "pysocklog via @std/log",
    proto: "pickle",
    cmd: denoSender("stdlog"),
  },
  {
    id: "ours-logtape",
    label: "pysocklog via LogTape",
    proto: "pickle",
    cmd: denoSender("logtape"),
  },
  {
    id: "pino",
    label: "Node pino + pino-socket",
    proto: "lines",
    cmd: (port, pace) => [
      "node",
      here("./_compare/node_sender.mjs"),
      String(port),
      String(N),
      String(pace),
    ],
  },
  {
    id: "logtape-syslog",
    label: "LogTape @logtape/syslog",
    proto: "lines",
    cmd: denoSender("syslog"),
  },
];

// ---- peers from npm ---------------------------------------------------

async function installNpmPeers(): Promise<string | undefined> {
  try {
    await Deno.mkdir(CACHE, { recursive: true });
    const out = await new Deno.Command("npm", {
      args: [
        "install",
        "--prefix",
        CACHE,
        "--no-audit",
        "--no-fund",
        "--no-save",
        ...NPM_PEERS,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) {
      return `npm install failed: ${
        new TextDecoder().decode(out.stderr).trim().split("\n").pop()
      }`;
    }
  } catch (error) {
    return `npm is not available: ${error}`;
  }
}

// ---- the sink -----------------------------------------------------------

interface SinkReport {
  frames: number;
  bytes: number;
  first: number;
  last: number;
  seqs: number;
  dups: number;
  ranges: [number, number][];
}

class Sink {
  port = 0;
  #child: Deno.ChildProcess;
  #lines: string[] = [];
  #waiters: (() => void)[] = [];
  #writer: WritableStreamDefaultWriter<Uint8Array>;

  private constructor(args: string[]) {
    const child = new Deno.Command(deno, {
      args: ["run", "--allow-net", here("./_compare/sink.ts"), ...args],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    (async () => {
      let buf = "";
      for await (
        const c of child.stdout.pipeThrough(new TextDecoderStream())
      ) {
        buf += c;
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          this.#lines.push(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          this.#waiters.splice(0).forEach((w) => w());
        }
      }
    })();
  }

  async #line(): Promise<string> {
    while (this.#lines.length === 0) {
      await new Promise<void>((r) => this.#waiters.push(r));
    }
    return this.#lines.shift()!;
  }

  static async start(args: string[]): Promise<Sink> {
    const s = new Sink(args);
    s.port = Number((await s.#line()).slice(5));
    return s;
  }

  async command(cmd: "REPORT" | "STOP"): Promise<SinkReport> {
    await this.#writer.write(new TextEncoder().encode(cmd + "\n"));
    const report = JSON.parse(await this.#line());
    if (cmd === "STOP") await this.#child.status;
    return report;
  }

  /** Waits until `frames` records arrived or nothing came for `idleMs`. */
  async settle(frames: number, idleMs = 1_500): Promise<SinkReport> {
    let r = await this.command("REPORT");
    let lastChange = Date.now();
    let lastFrames = r.frames;
    while (r.frames < frames && Date.now() - lastChange < idleMs) {
      await new Promise((res) => setTimeout(res, 50));
      r = await this.command("REPORT");
      if (r.frames !== lastFrames) {
        lastFrames = r.frames;
        lastChange = Date.now();
      }
    }
    return r;
  }
}

// ---- one run --------------------------------------------------------------

interface SenderReport {
  start: number;
  callsDone: number;
  done: number;
  medianNs: number;
  p99Ns: number;
  rssKb: number;
  stats: Record<string, unknown>;
  unavailable?: string;
}

async function runSender(
  sys: System,
  port: number,
  pace: number,
): Promise<SenderReport> {
  return await runJsonProcess<SenderReport>(
    sys.cmd(port, pace),
    sys.label,
    { BENCH_MODULES: `${CACHE}/node_modules` },
    SENDER_TIMEOUT_MS,
  );
}

interface Result {
  recsPerSec: number;
  medianNs: number;
  p99Ns: number;
  rssKb: number;
  bytesPerRecord: number;
  delivered: number;
  dups: number;
}

function unionDelivered(
  reports: SinkReport[],
): { delivered: number; dups: number } {
  const counts = new Uint16Array(N);
  let dups = 0;
  for (const r of reports) {
    dups += r.dups;
    for (const [a, b] of r.ranges) {
      for (let s = a; s <= b && s < N; s++) counts[s]++;
    }
  }
  let delivered = 0;
  for (let s = 0; s < N; s++) {
    if (counts[s] > 0) delivered++;
    if (counts[s] > 1) dups += counts[s] - 1;
  }
  return { delivered, dups };
}

/** One unpaced run into one sink, given the sink's extra arguments. */
async function scenarioOneSink(
  sys: System,
  sinkArgs: string[],
): Promise<Result> {
  const sink = await Sink.start(["--proto", sys.proto, ...sinkArgs]);
  try {
    const s = await runSender(sys, sink.port, 0);
    if (s.unavailable) throw new Unavailable(s.unavailable);
    const r = await sink.settle(N);
    const { delivered, dups } = unionDelivered([r]);
    return {
      recsPerSec: r.frames / ((r.last - s.start) / 1000),
      medianNs: s.medianNs,
      p99Ns: s.p99Ns,
      rssKb: s.rssKb,
      bytesPerRecord: r.bytes / Math.max(1, r.frames),
      delivered,
      dups,
    };
  } finally {
    await sink.command("STOP");
  }
}

/** A receiver that keeps up. */
function scenarioNormal(sys: System): Promise<Result> {
  return scenarioOneSink(sys, []);
}

/** A receiver that stops reading for STALL_MS halfway through. */
function scenarioStall(sys: System): Promise<Result> {
  return scenarioOneSink(sys, [
    "--expect",
    String(N),
    "--stall-ms",
    String(STALL_MS),
  ]);
}

async function scenarioRestarts(sys: System): Promise<Result> {
  let sink = await Sink.start(["--proto", sys.proto]);
  const port = sink.port;
  const reports: SinkReport[] = [];
  // Paced: 30 ms after every 1,000 records, so the run spans the restarts.
  const sender = runSender(sys, port, 30);
  let finished = false;
  sender.finally(() => finished = true).catch(() => {});
  for (let i = 0; i < RESTARTS && !finished; i++) {
    await new Promise((r) => setTimeout(r, 250));
    reports.push(await sink.command("STOP"));
    await new Promise((r) => setTimeout(r, 50));
    sink = await Sink.start(["--proto", sys.proto, "--port", String(port)]);
  }
  let s: Awaited<typeof sender>;
  try {
    s = await sender;
  } catch (error) {
    // A sender that failed (LogTape's syslog sink, at a restart) must not
    // leave the last sink running: it kept this script alive after its report.
    await sink.command("STOP").catch(() => {});
    throw error;
  }
  if (s.unavailable) {
    await sink.command("STOP");
    throw new Unavailable(s.unavailable);
  }
  await sink.settle(N - reports.reduce((a, r) => a + r.frames, 0));
  reports.push(await sink.command("STOP"));
  const { delivered, dups } = unionDelivered(reports);
  const bytes = reports.reduce((a, r) => a + r.bytes, 0);
  const frames = reports.reduce((a, r) => a + r.frames, 0);
  return {
    recsPerSec: NaN,
    medianNs: s.medianNs,
    p99Ns: s.p99Ns,
    rssKb: s.rssKb,
    bytesPerRecord: bytes / Math.max(1, frames),
    delivered,
    dups,
  };
}

class Unavailable extends Error {}

function median(xs: number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
}

function medianResult(rs: Result[]): Result {
  const pick = (k: keyof Result) => median(rs.map((r) => r[k]));
  return {
    recsPerSec: pick("recsPerSec"),
    medianNs: pick("medianNs"),
    p99Ns: pick("p99Ns"),
    rssKb: pick("rssKb"),
    bytesPerRecord: pick("bytesPerRecord"),
    delivered: pick("delivered"),
    dups: pick("dups"),
  };
}

// ---- run everything ---------------------------------------------------------

const only = Deno.env.get("BENCH_ONLY")?.split(",");
if (only) {
  for (const s of systems) {
    if (!only.includes(s.id)) s.unavailable = "left out by BENCH_ONLY";
  }
}
const npmProblem = await installNpmPeers();
if (npmProblem) systems.find((s) => s.id === "pino")!.unavailable = npmProblem;

type Scenario = "normal" | "stall" | "restarts";
const scenarios: [Scenario, (s: System) => Promise<Result>][] = [
  ["normal", scenarioNormal],
  ["stall", scenarioStall],
  ["restarts", scenarioRestarts],
];
const results = new Map<string, Map<Scenario, Result | string>>();
for (const sys of systems) results.set(sys.id, new Map());

// Warm-up: one short run of each system (caches, JIT, npm downloads).
for (const sys of systems) {
  if (sys.unavailable) continue;
  try {
    const sink = await Sink.start(["--proto", sys.proto]);
    try {
      const s = await runSender(sys, sink.port, 0);
      if (s.unavailable) sys.unavailable = s.unavailable;
    } finally {
      await sink.command("STOP");
    }
  } catch (error) {
    sys.unavailable = String((error as Error).message);
  }
}

for (const [name, fn] of scenarios) {
  const perSystem = new Map<string, Result[]>();
  for (let run = 0; run < RUNS; run++) {
    for (const sys of systems) {
      if (sys.unavailable) continue;
      try {
        const r = await fn(sys);
        perSystem.set(sys.id, [...(perSystem.get(sys.id) ?? []), r]);
        console.error(
          `${name} run ${run + 1}/${RUNS} ${sys.label}: ${
            Math.round(r.recsPerSec)
          } rec/s, p99 ${Math.round(r.p99Ns)} ns, delivered ${r.delivered}`,
        );
      } catch (error) {
        if (error instanceof Unavailable) sys.unavailable = error.message;
        else {results.get(sys.id)!.set(
            name,
            `failed: ${(error as Error).message}`,
          );}
      }
    }
  }
  for (const [id, rs] of perSystem) {
    results.get(id)!.set(name, medianResult(rs));
  }
}

// ---- the table ----------------------------------------------------------------

const fmt = (x: number, digits = 0) =>
  Number.isNaN(x) ? "–" : x.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
const us = (ns: number) => fmt(ns / 1000, 1);
const mb = (kb: number) => fmt(kb / 1024, 0);
const base = results.get("cpython")!.get("normal");
const baseRate = typeof base === "object" ? base.recsPerSec : NaN;
const baseP99 = typeof base === "object" ? base.p99Ns : NaN;

const lines: string[] = [];
lines.push(
  `N = ${
    fmt(N)
  } records per run, median of ${RUNS} runs; ratios against CPython's SocketHandler in the same run.`,
  "",
  "| system | records/s | × CPython | log call median µs | p99 µs | p99 × CPython | peak RSS MB | bytes/record | stalled 2 s: p99 µs | stalled: RSS MB | stalled: dropped | 10 restarts: delivered | duplicates |",
  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
);
for (const sys of systems) {
  const r = results.get(sys.id)!;
  if (sys.unavailable) {
    lines.push(
      `| ${sys.label} | not available: ${
        sys.unavailable.replaceAll("|", "/")
      } |||||||||||| |`,
    );
    continue;
  }
  const cell = (s: Scenario) => r.get(s);
  const n = cell("normal");
  const st = cell("stall");
  const rs = cell("restarts");
  const ok = (x: Result | string | undefined): x is Result =>
    typeof x === "object";
  lines.push(
    `| ${sys.label} | ${ok(n) ? fmt(n.recsPerSec) : n ?? "–"} | ${
      ok(n) ? fmt(n.recsPerSec / baseRate, 1) : "–"
    } | ${ok(n) ? us(n.medianNs) : "–"} | ${ok(n) ? us(n.p99Ns) : "–"} | ${
      ok(n) ? fmt(baseP99 / n.p99Ns, 1) + "× lower" : "–"
    } | ${ok(n) ? mb(n.rssKb) : "–"} | ${
      ok(n) ? fmt(n.bytesPerRecord) : "–"
    } | ${ok(st) ? us(st.p99Ns) : st ?? "–"} | ${
      ok(st) ? mb(st.rssKb) : "–"
    } | ${ok(st) ? fmt(N - st.delivered) : "–"} | ${
      ok(rs) ? `${fmt(rs.delivered)}/${fmt(N)}` : rs ?? "–"
    } | ${ok(rs) ? fmt(rs.dups) : "–"} |`,
  );
}
const table = lines.join("\n");
console.log(table);

// ---- machine, Markdown and SVG ------------------------------------------------

async function version(cmd: string, args: string[]): Promise<string> {
  try {
    const o = await new Deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    return new TextDecoder().decode(o.stdout.length ? o.stdout : o.stderr)
      .trim()
      .split("\n")[0];
  } catch {
    return "not found";
  }
}
let cpu = "unknown CPU";
try {
  cpu = /model name\s*:\s*(.+)/.exec(await Deno.readTextFile("/proc/cpuinfo"))
    ?.[1] ??
    cpu;
} catch {
  // not Linux
}
const machine = [
  `${cpu}, ${navigator.hardwareConcurrency} cores, ${Deno.build.os} ${Deno.build.arch}`,
  `deno ${Deno.version.deno}, ${await version("python3", [
    "--version",
  ])}, node ${await version(
    "node",
    ["--version"],
  )}`,
  `run on ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`,
].join("; ");

const md = `# pysocklog against its peers

Produced by \`deno task bench:compare\` (bench/compare.ts). ${machine}.

${table}

- records/s: end to end, from the first log call to the last byte at the sink.
- log call: the cost of one logging call in the program (what your code waits for).
- stalled 2 s: the sink stops reading for 2 s halfway through; dropped = records that never arrived.
- 10 restarts: the sink is stopped and restarted 10 times during a paced run; delivered = distinct records that arrived.

![records/s and log-call p99 per system](compare.svg)
`;
await Deno.mkdir(here("./results"), { recursive: true });
await Deno.writeTextFile(here("./results/compare.md"), md);

// A hand-made SVG: two bar charts, records/s and log-call p99 (log scale).
const rows = systems
  .map((s) => ({ s, r: results.get(s.id)!.get("normal") }))
  .filter((x): x is { s: System; r: Result } => typeof x.r === "object");
const W = 900;
const rowH = 26;
const chartH = rows.length * rowH + 40;
const maxRate = Math.max(...rows.map((x) => x.r.recsPerSec));
const maxP99 = Math.max(...rows.map((x) => x.r.p99Ns));
const minP99 = Math.min(...rows.map((x) => x.r.p99Ns));
const esc = (t: string) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;");
let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${
  2 * chartH + 30
}" font-family="sans-serif" font-size="12">\n`;
svg += `<rect width="100%" height="100%" fill="white"/>\n`;
const chart = (
  y0: number,
  title: string,
  value: (r: Result) => number,
  width: (v: number) => number,
  label: (v: number) => string,
  color: string,
) => {
  svg += `<text x="10" y="${y0 + 16}" font-weight="bold">${
    esc(title)
  }</text>\n`;
  rows.forEach(({ s, r }, i) => {
    const y = y0 + 30 + i * rowH;
    const v = value(r);
    const w = Math.max(1, width(v));
    const ours = s.id.startsWith("ours");
    svg += `<text x="10" y="${y + 15}">${esc(s.label)}</text>\n`;
    svg += `<rect x="230" y="${y + 3}" width="${w.toFixed(1)}" height="${
      rowH - 8
    }" fill="${ours ? color : "#999"}"/>\n`;
    svg += `<text x="${(236 + w).toFixed(1)}" y="${y + 15}">${
      esc(label(v))
    }</text>\n`;
  });
};
chart(
  0,
  "records/s end to end (higher is better)",
  (r) => r.recsPerSec,
  (v) => (v / maxRate) * (W - 330),
  (v) => fmt(v),
  "#2a7ae2",
);
chart(
  chartH + 20,
  "log call p99, µs, log scale (lower is better)",
  (r) => r.p99Ns,
  (v) =>
    ((Math.log10(v) - Math.log10(minP99) + 0.3) /
      (Math.log10(maxP99) - Math.log10(minP99) + 0.3)) * (W - 330),
  (v) => us(v),
  "#e2762a",
);
svg += `<text x="10" y="${2 * chartH + 22}" fill="#555">${
  esc(machine)
}</text>\n</svg>\n`;
await Deno.writeTextFile(here("./results/compare.svg"), svg);
console.log(
  `\nwrote bench/results/compare.md and bench/results/compare.svg\n${machine}`,
);
