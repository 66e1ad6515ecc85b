// DatagramHandler against CPython's cookbook UDP receiver (it strips the
// 4-byte length and unpickles the rest).
import { deepEqual, equal, match, ok } from "node:assert/strict";
import {
  DatagramHandler,
  makeLogRecord,
  makePickle,
  MAX_DATAGRAM_BYTES,
} from "../mod.ts";
import { runScript } from "./_helpers.ts";
import { PyReceiver } from "./_receiver.ts";

Deno.test("UDP: records reach CPython's UDP receiver, one framed record per datagram", async () => {
  const rx = await PyReceiver.start("udp");
  const h = new DatagramHandler("127.0.0.1", rx.port);
  try {
    // UDP may drop under load; batches paced by the receiver keep loopback lossless.
    for (let i = 0; i < 200; i++) {
      h.handle(makeLogRecord({
        name: "app.udp",
        levelname: "WARN",
        msg: "tick %d of %s",
        args: [i, "200"],
        lineno: 7,
      }, { seq: i, payload: { nested: [i, "x"] } }));
      if (i % 20 === 19) {
        // Let the (slow, Python) receiver catch up: its socket buffer is
        // small, and a datagram it has no room for is lost by UDP itself.
        await h.flush();
        await rx.waitFor(i + 1, 5000);
      }
    }
    await h.flush();
    await rx.waitFor(200, 5000);
    equal(rx.records.length, 200);
    const seqs = rx.records.map((r) => r.seq as number).sort((a, b) => a - b);
    deepEqual(seqs, Array.from({ length: 200 }, (_, i) => i));
    const r = rx.records.find((r) => r.seq === 17)!;
    equal(r.msg, "tick 17 of 200");
    equal(r.levelname, "WARNING");
    equal(r.levelno, 30);
    equal(r.name, "app.udp");
    equal(r.lineno, 7);
    deepEqual(r.payload, { nested: [17, "x"] });
    equal(h.stats.sent, 200);
    equal(h.stats.failed, 0);
  } finally {
    await h.close();
    await rx.stop();
  }
  equal(rx.stderr, "");
});

Deno.test("UDP: a record too large for one datagram is reported and counted, not sent truncated", async () => {
  const rx = await PyReceiver.start("udp");
  const errors: unknown[] = [];
  const h = new DatagramHandler("127.0.0.1", rx.port, {
    onError: (e) => errors.push(e),
  });
  try {
    const big = makeLogRecord({ msg: "x".repeat(MAX_DATAGRAM_BYTES) });
    ok(makePickle(big).length > MAX_DATAGRAM_BYTES);
    // The largest record that fits still goes.
    const overhead = makePickle(makeLogRecord({ msg: "" })).length;
    const fits = makeLogRecord({
      msg: "y".repeat(MAX_DATAGRAM_BYTES - overhead - 8),
    });
    ok(makePickle(fits).length <= MAX_DATAGRAM_BYTES);
    h.handle(big);
    h.handle(fits);
    h.handle({ msg: "after" });
    await h.flush();
    await rx.waitFor(2, 5000);
    equal(h.stats.failed, 1);
    equal(h.stats.sent, 2);
    equal(errors.length, 1);
    match(String(errors[0]), /65507/);
    equal(rx.records.length, 2);
    equal(
      (rx.records[0].msg as string).length,
      MAX_DATAGRAM_BYTES - overhead - 8,
    );
    equal(rx.records[1].msg, "after");
  } finally {
    await h.close();
    await rx.stop();
  }
});

Deno.test("UDP: no receiver listening: emit never throws, close() returns", async () => {
  const h = new DatagramHandler("127.0.0.1", 9, { onError: () => {} });
  for (let i = 0; i < 100; i++) h.handle({ msg: "into the void" });
  await h.flush();
  await h.close();
  equal(h.stats.emitted, 100);
});

Deno.test("UDP: 150 records logged right after construction arrive in emission order", async () => {
  const rx = await PyReceiver.start("udp");
  const h = new DatagramHandler("127.0.0.1", rx.port);
  try {
    for (let i = 0; i < 150; i++) h.handle({ msg: "n=%d", args: [i], seq: i });
    await h.flush();
    await rx.waitFor(150, 5000);
    deepEqual(
      rx.records.map((r) => r.seq),
      Array.from({ length: 150 }, (_, i) => i),
    );
  } finally {
    await h.close();
    await rx.stop();
  }
});

/** Runs a script as a child with a hard kill after `killMs`: a hang fails the test instead of freezing it. */
const runChild = (source: string, args: string[] = [], killMs = 15_000) =>
  runScript(source, { args, killMs });

const MOD = new URL("../mod.ts", import.meta.url).href;

Deno.test("UDP: a bad hostname is reported, never blocks timers, and the program exits by itself", async () => {
  const r = await runChild(`import { DatagramHandler } from "${MOD}";
let ticks = 0;
const timer = setInterval(() => ticks++, 10);
const errors = [];
const h = new DatagramHandler("no.such.host.invalid", 9021, {
  onError: (e) => errors.push(String(e)),
});
h.handle({ msg: "one" });
await new Promise((r) => setTimeout(r, 500));
h.handle({ msg: "two" });
clearInterval(timer);
console.log(JSON.stringify({ ticks, errors, stats: h.stats }));
`);
  equal(r.killed, false, "the program hung");
  equal(r.code, 0, r.err);
  const { ticks, errors, stats } = JSON.parse(r.out);
  ok(ticks >= 20, `the interval fired ${ticks} times in 500 ms`);
  ok(errors.length >= 1, "onError was called");
  match(errors[0], /no\.such\.host\.invalid|lookup|ENOTFOUND/);
  equal(stats.dropped, 2, "both records counted as dropped");
  ok(r.ms < 10_000, `took ${r.ms} ms`);
});

Deno.test("UDP: a script that logs and never closes its DatagramHandler exits", async () => {
  const rx = await PyReceiver.start("udp");
  try {
    const r = await runChild(
      `import { DatagramHandler } from "${MOD}";
const h = new DatagramHandler("127.0.0.1", Number(Deno.args[0]));
for (let i = 0; i < 10; i++) h.handle({ msg: "n=" + i });
`,
      [String(rx.port)],
    );
    equal(r.killed, false, "the program did not exit");
    equal(r.code, 0, r.err);
    ok(r.ms < 10_000, `took ${r.ms} ms`);
    await rx.waitFor(10, 3000);
    equal(rx.records.length, 10, "records sent before exit");
  } finally {
    await rx.stop();
  }
});

Deno.test("UDP: the socket is made with CPython's backoff, by the names CPython's DatagramHandler inherits (createSocket, retryStart ... retryPeriod)", async () => {
  const errors: string[] = [];
  const h = new DatagramHandler("no.such.host.invalid", 9021, {
    retryStart: 0.2,
    retryFactor: 2,
    retryMax: 0.5,
    closeTimeout: 300, // the notice it owes cannot be sent: no socket
    onError: (e) => errors.push(String(e)),
  });
  try {
    equal(h.retryTime, null);
    equal(h.retryPeriod, 0.2);
    const periods: number[] = [];
    for (let i = 0; i < 3; i++) {
      const before = Date.now() / 1000;
      await h.createSocket();
      equal(h.sock, null);
      periods.push(h.retryPeriod);
      ok(h.retryTime !== null && h.retryTime >= before + h.retryPeriod - 0.01);
      // No attempt before retryTime: nothing more is reported.
      const reported = errors.length;
      await h.createSocket();
      equal(errors.length, reported, "an attempt before retryTime");
      await new Promise((r) =>
        setTimeout(r, (h.retryTime! * 1000) - Date.now() + 20)
      );
    }
    deepEqual(periods, [0.2, 0.4, 0.5]);
    ok(errors.length >= 1, "the failed lookup was reported");
    // Records logged while waiting for retryTime are dropped (counted).
    await h.createSocket();
    h.handle({ msg: "while down" });
    equal(h.stats.dropped, 1);
  } finally {
    await h.close();
  }
  // The options are checked up front, as SocketHandler's.
  for (
    const options of [{ retryStart: 0 }, { retryFactor: NaN }, {
      retryStart: 5,
      retryMax: 2,
    }]
  ) {
    let threw: unknown;
    try {
      new DatagramHandler("127.0.0.1", 9021, options);
    } catch (error) {
      threw = error;
    }
    ok(threw instanceof RangeError, JSON.stringify(options));
  }
});
