// Node's pino + pino-socket (TCP) for bench/compare.ts, run as its own process:
//   NODE_PATH=<cache>/node_modules node bench/_compare/node_sender.mjs PORT N PACE
// Same records as the other systems; pino-socket with reconnect and its
// recovery queue on (its best settings for a receiver that goes away).
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const require = createRequire(join(process.env.BENCH_MODULES, "x.js"));
const pino = require("pino");
const [port, n, pace] = process.argv.slice(2).map(Number);
const transport = pino.transport({
  target: require.resolve("pino-socket"),
  options: {
    address: "127.0.0.1",
    port,
    mode: "tcp",
    reconnect: true,
    recovery: true,
  },
});
const logger = pino({ base: null, name: "bench" }, transport);

const times = new Float64Array(n);
const now = () => performance.timeOrigin + performance.now();
const start = now();
for (let i = 0; i < n; i++) {
  const t0 = performance.now();
  logger.info(
    { seq: i, user: "alice" },
    "request %d handled in %s ms for user %s",
    i,
    "1.500",
    "alice",
  );
  times[i] = performance.now() - t0;
  if (i % 1000 === 999) { // yield now and then, as deno_sender.ts does
    await new Promise((r) => setTimeout(r, Math.max(1, pace)));
  }
}
const callsDone = now();
// pino's transport (a worker thread) says when it has flushed by "close";
// a timer keeps the process alive meanwhile, bounded to 10 s.
await new Promise((resolve) => {
  const timer = setTimeout(resolve, 10_000);
  transport.once("close", () => {
    clearTimeout(timer);
    resolve();
  });
  transport.end();
});
times.sort();
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
console.log(JSON.stringify({
  start,
  callsDone,
  done: now(),
  medianNs: times[Math.floor(n / 2)] * 1e6,
  p99Ns: times[Math.floor(n * 0.99)] * 1e6,
  rssKb: Number(hwm[1]),
  stats: {},
}));
process.exit(0);
