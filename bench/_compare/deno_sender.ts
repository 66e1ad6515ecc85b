// One Deno-side system of bench/compare.ts, run as its own process:
//   deno run --allow-net --allow-read --allow-env bench/_compare/deno_sender.ts MODE PORT N PACE [WARMUP]
// MODE: plain (our SocketHandler) | stdlog (@std/log + our ./std-log) |
// logtape (LogTape + our ./logtape) | syslog (LogTape + @logtape/syslog, TCP).
// Logs N records (seq 0..N-1; the same message and extras as the other
// systems), timing each log call; PACE > 0 sleeps PACE ms after every 1,000
// records. PACE -1 (plain mode) is a producer that heeds backpressure: after
// every 1,000 records it awaits flush() when 5,000 or more are queued (half
// the default bound), and times one call in 16. WARMUP records (seq -1, not
// timed, flushed before the clock starts) go first. Prints one JSON line:
// start (epoch ms), call timings, peak RSS.
const [mode, portText, nText, paceText, warmupText] = Deno.args;
const port = Number(portText);
const N = Number(nText);
const pace = Number(paceText ?? 0);
const warmup = Number(warmupText ?? 0);
const now = () => performance.timeOrigin + performance.now();

type Log = (seq: number) => void;
let log: Log;
let finish: () => Promise<Record<string, unknown>>;
/** Waits until what was logged so far was written (plain mode). */
let flush: () => Promise<void> = () => Promise.resolve();
/** For PACE -1: waits for the handler when its queue is half full. */
let backpressure: (() => Promise<void>) | undefined;

if (mode === "plain") {
  const { SocketHandler } = await import("../../mod.ts");
  const h = new SocketHandler("127.0.0.1", port);
  log = (seq) =>
    h.handle({
      name: "bench",
      levelno: 20,
      msg: "request %d handled in %.3f ms for user %s",
      args: [seq, 1.5, "alice"],
      seq,
      user: "alice",
    });
  finish = async () => {
    await h.close();
    return { ...h.stats };
  };
  backpressure = () =>
    h.stats.queued >= h.maxQueueRecords / 2 ? h.flush() : Promise.resolve();
  flush = () => h.flush();
} else if (mode === "stdlog") {
  // Non-literal specifiers: type-checking bench/ must not need @std/log.
  const spec = "@std/log";
  let log_: unknown;
  try {
    log_ = await import(spec);
  } catch (error) {
    console.log(
      JSON.stringify({
        unavailable: `@std/log does not resolve: ${
          String(error).split("\n")[0]
        }`,
      }),
    );
    Deno.exit(0);
  }
  const entry = "../../std_log.ts";
  const { SocketHandler } = await import(entry);
  const net = new SocketHandler("INFO", { hostname: "127.0.0.1", port });
  // deno-lint-ignore no-explicit-any
  const std = log_ as any;
  std.setup({
    handlers: { net },
    loggers: { bench: { level: "INFO", handlers: ["net"] } },
  });
  const logger = std.getLogger("bench");
  log = (seq) =>
    logger.info(`request ${seq} handled in 1.500 ms for user alice`, {
      seq,
      user: "alice",
    });
  finish = async () => {
    await net.close();
    return { ...net.handler.stats };
  };
} else if (mode === "logtape" || mode === "syslog") {
  const { configure, getLogger, reset } = await import("@logtape/logtape");
  // deno-lint-ignore no-explicit-any
  let sink: any;
  if (mode === "logtape") {
    const { getSocketSink } = await import("../../logtape.ts");
    sink = getSocketSink({ hostname: "127.0.0.1", port });
  } else {
    const syslog = "npm:@logtape/syslog@^1.3.10";
    const { getSyslogSink } = await import(syslog);
    sink = getSyslogSink({
      hostname: "127.0.0.1",
      port,
      protocol: "tcp",
      includeStructuredData: true,
    });
  }
  await configure({
    sinks: { out: sink },
    loggers: [
      { category: "bench", sinks: ["out"], lowestLevel: "info" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "fatal" },
    ],
  });
  const logger = getLogger("bench");
  log = (seq) =>
    logger.info("request {seq} handled in {ms} ms for user {user}", {
      seq,
      ms: "1.500",
      user: "alice",
    });
  finish = async () => {
    await reset();
    return sink.handler ? { ...sink.handler.stats } : {};
  };
} else {
  throw new Error(`unknown mode ${mode}`);
}

if (pace < 0 && backpressure === undefined) {
  throw new Error(`PACE -1 needs plain mode, not ${mode}`);
}
const SAMPLE = pace < 0 ? 16 : 1;
const times = new Float64Array(Math.ceil(N / SAMPLE));
for (let i = 0; i < warmup; i++) {
  log(-1);
  if (i % 1000 === 999) {
    await (backpressure
      ? backpressure()
      : new Promise((r) => setTimeout(r, 1)));
  }
}
if (warmup > 0) {
  await flush();
  await new Promise((r) => setTimeout(r, 100));
}
let peakRss = 0;
const start = now();
for (let i = 0; i < N; i++) {
  if (i % SAMPLE === 0) {
    const t0 = performance.now();
    log(i);
    times[i / SAMPLE] = performance.now() - t0;
  } else {
    log(i);
  }
  if (i % 1000 === 999) {
    if (i % 10_000 === 9_999) {
      peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
    }
    if (backpressure !== undefined && pace < 0) {
      await backpressure();
      continue;
    }
    // A program yields to the event loop now and then (a server between
    // requests); without it an async sender's socket is never written.
    // A macrotask, as a server's I/O wait is (setImmediate lets no socket
    // write complete in Deno; a timer in a loop is clamped to 4 ms).
    await new Promise((r) => setTimeout(r, Math.max(1, pace)));
  }
}
const callsDone = now();
const stats = await finish();
peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
const hwm = /VmHWM:\s+(\d+) kB/.exec(
  Deno.readTextFileSync("/proc/self/status"),
);
times.sort();
console.log(JSON.stringify({
  start,
  callsDone,
  done: now(),
  medianNs: times[Math.floor(times.length / 2)] * 1e6,
  p99Ns: times[Math.floor(times.length * 0.99)] * 1e6,
  maxNs: times[times.length - 1] * 1e6,
  rssKb: hwm ? Number(hwm[1]) : Math.round(peakRss / 1024),
  stats,
}));
Deno.exit(0);
