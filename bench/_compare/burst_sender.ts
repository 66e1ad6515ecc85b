// Our sender of bench/socket_compare.ts, run as its own process:
//   deno run -A bench/_compare/burst_sender.ts MODE PORT N E [SEED]
// MODE: corpus (records of bench/_corpus.ts's varied corpus, 10,000
// distinct ones taken in turn) | one (one record, the old bench's, again and
// again) | backpressure (the one record, from a producer that heeds
// backpressure by hand: after every 1,000 records it awaits flush() when half
// the queue is used; the old bench:socket figure) | frames (a ceiling, not
// what users get: the corpus records' frames made with makePickle before
// the clock starts and queued with send(), so the loop does no encoding).
// A SocketHandler with default options. The caller never awaits flush()
// (except in backpressure mode): it logs N records and yields to the event
// loop with setImmediate after every E, as ordinary code between bits of
// work does; then awaits close(). Times one log call in 16 (a timer call
// costs about 80 ns). Prints one JSON line: start (epoch ms, before the first
// call), callsDone, done (close() resolved), call timings, peak RSS (VmHWM),
// RSS before the first call, the handler's stats.
import { type LogRecordInit, makePickle, SocketHandler } from "../../mod.ts";
import { makeCorpus } from "../_corpus.ts";

const [mode, portText, nText, eText, seedText] = Deno.args;
const port = Number(portText);
const N = Number(nText);
const E = Number(eText);
const SEED = Number(seedText ?? 1);
/** Distinct records the corpus sender takes in turn. */
const POOL = 10_000;
/**
 * One call in SAMPLE is timed: 16, or more past 1M records, so that the
 * timings take at most ~0.5 MB (one in 16 of 10M took 5 MB, counted in
 * the sender's peak RSS by the memory check).
 */
const SAMPLE = Math.max(16, Math.ceil(N / 65_536));
/** Peak RSS is sampled every this many records (VmHWM is read at the end). */
const RSS_EVERY = 10_000;
const now = () => performance.timeOrigin + performance.now();

let pool: LogRecordInit[];
/** The frames mode's frames, one per pool record; empty in other modes. */
let frames: Uint8Array[] = [];
if (mode === "corpus" || mode === "frames") {
  // A caller gives no time: handle() stamps it, as CPython's LogRecord does.
  // Records are built without it (not `delete`d: that turns an object into
  // a dictionary-mode one, which reads 1.5x slower than the literals users
  // pass: 367 against 246 ns in readPartial).
  pool = makeCorpus({ size: POOL, seed: SEED }).map(({ created: _, ...r }) =>
    r
  );
  if (mode === "frames") frames = pool.map((r) => makePickle(r).slice());
} else if (mode === "one" || mode === "backpressure") {
  pool = [{
    name: "bench",
    levelno: 20,
    msg: "request %d handled in %.3f ms for user %s",
    args: [1, 1.5, "alice"],
    seq: 1,
    user: "alice",
  }];
} else {
  throw new Error(`unknown mode ${mode}`);
}

const h = new SocketHandler("127.0.0.1", port);
const times = new Float64Array(Math.ceil(N / SAMPLE));
const yieldNow = () => new Promise<void>((r) => setImmediate(r));
/** RSS before the first call: the runtime, the code and the record pool. */
const rssStartKb = Math.round(Deno.memoryUsage().rss / 1024);
let peakRss = 0;
const P = pool.length;
const useFrames = frames.length > 0;
const start = now();
for (let i = 0, j = 0; i < N; i++) {
  const rec = pool[j];
  if (useFrames) {
    if (i % SAMPLE === 0) {
      const t0 = performance.now();
      h.send(frames[j]);
      times[i / SAMPLE] = performance.now() - t0;
    } else {
      h.send(frames[j]);
    }
  } else if (i % SAMPLE === 0) {
    const t0 = performance.now();
    h.handle(rec);
    times[i / SAMPLE] = performance.now() - t0;
  } else {
    h.handle(rec);
  }
  if (++j === P) j = 0;
  if (i % RSS_EVERY === RSS_EVERY - 1) {
    peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
  }
  if (mode === "backpressure") {
    if (i % 1000 === 999 && h.stats.queued >= h.maxQueueRecords / 2) {
      await h.flush();
    }
  } else if (i % E === E - 1) {
    await yieldNow();
  }
}
const callsDone = now();
await h.close();
const done = now();
peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
const hwm = /VmHWM:\s+(\d+) kB/.exec(
  Deno.readTextFileSync("/proc/self/status"),
);
times.sort();
console.log(JSON.stringify({
  start,
  callsDone,
  done,
  medianNs: times[Math.floor(times.length / 2)] * 1e6,
  p99Ns: times[Math.floor(times.length * 0.99)] * 1e6,
  maxNs: times[times.length - 1] * 1e6,
  rssKb: hwm ? Number(hwm[1]) : Math.round(peakRss / 1024),
  rssStartKb,
  stats: { ...h.stats },
}));
Deno.exit(0);
