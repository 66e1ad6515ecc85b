// Handlers: options checked up front, bounded flush, close() that keeps
// retrying, and error reports a user sees (against a real CPython receiver).
import { equal, ok, throws } from "node:assert/strict";
import { DatagramHandler, SocketHandler } from "../mod.ts";
import { freePort, PyReceiver, sleep } from "./_receiver.ts";

Deno.test("constructor: RangeError for impossible ports, empty hosts, and non-positive or NaN values", () => {
  const bad: [string, () => unknown][] = [
    ["port 70000", () => new SocketHandler("127.0.0.1", 70_000)],
    ["port NaN", () => new SocketHandler("127.0.0.1", NaN)],
    ["port 0", () => new SocketHandler("127.0.0.1", 0)],
    ["port 1.5", () => new SocketHandler("127.0.0.1", 1.5)],
    ["port -1", () => new SocketHandler("127.0.0.1", -1)],
    ["host empty", () => new SocketHandler("", 9020)],
    ["unix path empty", () => new SocketHandler("", null)],
    ["retryStart 0", () => new SocketHandler("h", 9020, { retryStart: 0 })],
    ["retryStart NaN", () => new SocketHandler("h", 9020, { retryStart: NaN })],
    ["retryMax -1", () => new SocketHandler("h", 9020, { retryMax: -1 })],
    [
      "retryMax < start",
      () => new SocketHandler("h", 9020, { retryStart: 5, retryMax: 2 }),
    ],
    ["retryFactor 0", () => new SocketHandler("h", 9020, { retryFactor: 0 })],
    [
      "connectTimeout NaN",
      () => new SocketHandler("h", 9020, { connectTimeout: NaN }),
    ],
    [
      "maxQueueRecords 0",
      () => new SocketHandler("h", 9020, { maxQueueRecords: 0 }),
    ],
    [
      "maxQueueBytes NaN",
      () => new SocketHandler("h", 9020, { maxQueueBytes: NaN }),
    ],
    [
      "maxBatchBytes -5",
      () => new SocketHandler("h", 9020, { maxBatchBytes: -5 }),
    ],
    [
      "closeTimeout -1",
      () => new SocketHandler("h", 9020, { closeTimeout: -1 }),
    ],
    [
      "exitTimeout NaN",
      () => new SocketHandler("h", 9020, { exitTimeout: NaN }),
    ],
    ["UDP port 70000", () => new DatagramHandler("127.0.0.1", 70_000)],
    ["UDP host empty", () => new DatagramHandler("", 9021)],
    [
      "UDP maxQueueRecords NaN",
      () => new DatagramHandler("h", 9021, { maxQueueRecords: NaN }),
    ],
  ];
  for (const [what, make] of bad) throws(make, RangeError, what);
});

Deno.test("flush({ timeout }) and flush({ signal }) with the receiver down resolve false; flush() after close resolves", async () => {
  const h = new SocketHandler("127.0.0.1", freePort(), {
    retryStart: 10,
    closeTimeout: 0,
    onError: () => {},
  });
  h.handle({ msg: "waits" });
  const t0 = performance.now();
  equal(await h.flush({ timeout: 150 }), false);
  const ms = performance.now() - t0;
  ok(ms >= 140 && ms < 2000, `gave up after ${ms} ms`);
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  equal(await h.flush({ signal: ac.signal }), false);
  equal(await h.flush({ signal: AbortSignal.abort() }), false);
  const pending = h.flush(); // no options: waits as long as it takes
  await h.close();
  equal(await pending, undefined);
  equal(h.stats.dropped, 1);
  equal(await h.flush({ timeout: 10 }), true, "nothing queued any more");
});

Deno.test("flush({ timeout }) resolves true once the records are written", async () => {
  const rx = await PyReceiver.start("tcp");
  const h = new SocketHandler("127.0.0.1", rx.port);
  try {
    for (let i = 0; i < 100; i++) h.handle({ msg: `n=${i}` });
    equal(await h.flush({ timeout: 5000 }), true);
    equal(h.stats.sent, 100);
  } finally {
    await h.close();
    await rx.stop();
  }
});

Deno.test("handle() after close() returns false and counts the record dropped", async () => {
  const rx = await PyReceiver.start("tcp");
  const errors: unknown[] = [];
  const h = new SocketHandler("127.0.0.1", rx.port, {
    onError: (e) => errors.push(e),
  });
  equal(h.handle({ msg: "before" }), true);
  await h.close();
  equal(h.handle({ msg: "after" }), false);
  equal(h.handle({ name: "x", levelno: 50, msg: "after" }), false);
  equal(h.stats.dropped, 2);
  equal(
    errors.length,
    2,
    "reported (to stderr, rate-limited, without onError)",
  );
  await rx.waitFor(1);
  await rx.stop();
  equal(rx.records.length, 1);
});

Deno.test("connection lost during close(), receiver back 0.3 s later: close() reconnects and delivers everything", async () => {
  const rx1 = await PyReceiver.start("tcp");
  const port = rx1.port;
  const h = new SocketHandler("127.0.0.1", port, {
    retryStart: 0.05,
    retryMax: 0.1,
  });
  let rx2: PyReceiver | null = null;
  try {
    for (let i = 0; i < 100; i++) h.handle({ msg: "first", seq: i });
    await h.flush();
    await rx1.waitFor(100);
    await rx1.stop(true);
    await sleep(100); // the handler sees the connection go
    for (let i = 100; i < 600; i++) h.handle({ msg: "second", seq: i });
    const t0 = performance.now();
    const closed = h.close();
    await sleep(300);
    rx2 = await PyReceiver.start("tcp", port);
    await closed;
    const ms = performance.now() - t0;
    ok(ms < 2500, `close() took ${ms} ms (closeTimeout is 5000)`);
    equal(h.stats.dropped, 0);
    equal(h.stats.sent, 600);
    await rx2.waitFor(500);
    equal(rx1.records.length, 100);
    equal(rx2.records.length, 500);
    for (let i = 0; i < 500; i++) equal(rx2.records[i].seq, 100 + i);
  } finally {
    await h.close();
    await rx2?.stop();
  }
});

Deno.test("close() right after logging, while the first attempt fails: retries until the receiver is up", async () => {
  const port = freePort();
  const h = new SocketHandler("127.0.0.1", port, {
    retryStart: 0.05,
    retryMax: 0.1,
  });
  let rx: PyReceiver | null = null;
  try {
    h.handle({ msg: "early" });
    const closed = h.close();
    await sleep(500);
    rx = await PyReceiver.start("tcp", port);
    await closed;
    equal(h.stats.sent, 1);
    equal(h.stats.dropped, 0);
    await rx.waitFor(1);
    equal(rx.records.length, 1);
  } finally {
    await rx?.stop();
  }
});

async function runScript(
  source: string,
  args: string[],
  flags = ["--allow-net"],
): Promise<{ code: number; err: string; ms: number }> {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, source);
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, file, ...args],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const kill = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const out = await child.output();
  clearTimeout(kill);
  await Deno.remove(file);
  return {
    code: out.code,
    err: new TextDecoder().decode(out.stderr),
    ms: performance.now() - t0,
  };
}

const MOD = new URL("../mod.ts", import.meta.url).href;

Deno.test("reports: a missing permission is reported at once, and close() need not wait; the first error of each kind at once, the rest rate-limited; messages cut short", async () => {
  const r = await runScript(
    `import { SocketHandler } from "${MOD}";
const h = new SocketHandler("127.0.0.1", 9, { maxQueueBytes: 100_000 });
h.handle({ msg: "%d", args: ["not a number"] }); // encoding failure
h.handle({ msg: "%d", args: ["again"] });
h.handle({ msg: "%d", args: ["and again"] });
h.handle({ msg: "x".repeat(1_000_000) }); // too large: refused
h.handle({ msg: "fine, but never sent" });
const t0 = performance.now();
await h.close();
console.error(JSON.stringify({ closeMs: performance.now() - t0, ...h.stats }));
`,
    [],
    ["--allow-read"],
  );
  equal(r.code, 0, r.err);
  ok(r.err.includes("NotCapable"), r.err);
  const blocks = r.err.split("--- Logging error ---").length - 1;
  // NotCapable, the first TypeError and the RangeError: one report each;
  // the two further TypeErrors are suppressed, and counted at close().
  equal(blocks, 4, r.err);
  ok(r.err.includes("2 more TypeError errors were not reported"), r.err);
  ok(r.err.includes("RangeError"), r.err);
  ok(r.err.length < 5_000, `stderr is ${r.err.length} characters`);
  const s = JSON.parse(r.err.trim().split("\n").at(-1)!);
  equal(s.failed, 4);
  equal(s.dropped, 1, "the record no connection can carry is counted");
  ok(s.closeMs < 1_000, `close() took ${s.closeMs} ms (closeTimeout 5000)`);
});
