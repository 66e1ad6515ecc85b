// SocketHandler with default options against a real CPython receiver
// (tests/_py/count_receiver.py: pickle.loads on every frame, nothing
// printed per record): bursts from a caller that never awaits, and a
// receiver restarted under a steady stream.
import { equal, ok } from "node:assert/strict";
import { SocketHandler } from "../mod.ts";
import { sleep } from "./_receiver.ts";
import { CountReceiver } from "./_count_receiver.ts";

// Records from four call sites, as an application logs them.
const SITES = [
  (i: number) => ({
    name: "app.db",
    levelno: 20,
    msg: "query %s took %.2f ms",
    args: ["SELECT * FROM users WHERE id = ?", i / 7],
    seq: i,
    pathname: "/srv/app/db.ts",
    lineno: 120,
    funcName: "query",
  }),
  (i: number) => ({
    name: "app.http",
    levelno: 20,
    msg: "request %d handled in %.3f ms for user %s",
    args: [i, 1.5, "alice"],
    seq: i,
    user: "alice",
    status: 200,
  }),
  (i: number) => ({
    name: "app.auth",
    levelno: 30,
    msg: "login failed for %s from %s",
    args: ["bob" + (i % 97), "10.0.0." + (i % 255)],
    seq: i,
    attempts: i % 5,
  }),
  (i: number) => ({
    name: "app.jobs",
    levelno: 10,
    msg: "job %d step %d of %d",
    args: [i % 1000, i % 7, 7],
    seq: i,
    tags: ["a", "b"],
  }),
];

const BURST = 200_000;

for (const every of [100, 500, 2000]) {
  Deno.test(`burst: ${BURST} records, setImmediate every ${every}, never awaiting, default options: zero drops`, async () => {
    const rx = await CountReceiver.start();
    const h = new SocketHandler("127.0.0.1", rx.port);
    try {
      for (let i = 0; i < BURST; i++) {
        h.handle(SITES[i & 3](i));
        if (i % every === every - 1) {
          await new Promise((r) => setImmediate(r));
        }
      }
      const most = h.stats.queued;
      await h.close();
      const c = await rx.waitFor(BURST);
      console.log(
        `E=${every}: dropped ${h.stats.dropped}, queued at the end of the calls ${most}`,
      );
      equal(h.stats.dropped, 0);
      equal(h.stats.sent, BURST);
      equal(c.records, BURST);
      equal(c.notices, 0);
      equal(c.seq_errors, 0, "every record once, in order");
    } finally {
      await h.close();
      await rx.stop();
    }
  });
}

Deno.test("10 receiver restarts during a steady stream: no duplicate, no corrupt frame, loss <= 0.5%", async () => {
  let rx = await CountReceiver.start(0, true);
  const port = rx.port;
  const h = new SocketHandler("127.0.0.1", port, {
    retryStart: 0.05,
    retryMax: 0.1,
  });
  const seen: number[] = [];
  let seq = 0;
  const stream = async () => {
    // About 2,000 records/s for 300 ms.
    for (let tick = 0; tick < 60; tick++) {
      for (let k = 0; k < 10; k++) h.handle(SITES[seq & 3](seq++));
      await sleep(5);
    }
  };
  try {
    for (let restart = 0; restart < 10; restart++) {
      await stream();
      await rx.stop(); // while records keep coming
      seen.push(...rx.seen);
      rx = await CountReceiver.start(port, true);
    }
    await stream();
    await h.close();
    await sleep(200);
  } finally {
    await h.close();
    await rx.stop();
    seen.push(...rx.seen);
  }
  const unique = new Set(seen);
  equal(unique.size, seen.length, "no duplicate");
  for (let i = 1; i < seen.length; i++) {
    ok(seen[i] > seen[i - 1], `in order at ${i}`);
  }
  const lost = seq - seen.length;
  console.log(
    `emitted ${seq}, delivered ${seen.length}, lost ${lost} (${
      (100 * lost / seq).toFixed(2)
    }%), reconnects ${h.stats.reconnects}, handler dropped ${h.stats.dropped}`,
  );
  ok(lost <= seq * 0.005, `lost ${lost} of ${seq}`);
  // Runs of lost records: with Nagle's algorithm every restart lost its
  // last write (10 runs, 20 records); with TCP_NODELAY none did (0 of 3 runs).
  let gaps = 0;
  for (let i = 1; i < seen.length; i++) if (seen[i] !== seen[i - 1] + 1) gaps++;
  ok(gaps <= 5, `${gaps} of 10 restarts lost records`);
  equal(h.stats.dropped, 0);
  ok(h.stats.reconnects >= 10);
  equal(seen.at(-1), seq - 1, "the last record arrived");
});

Deno.test("connection lost while the I/O worker's ring is full: what it held is sent again on the next connection, in order, once", async () => {
  let rx = await CountReceiver.start(0, true);
  const port = rx.port;
  const h = new SocketHandler("127.0.0.1", port, {
    retryStart: 0.05,
    retryMax: 0.1,
  });
  const pad = "p".repeat(1000);
  const seen: number[] = [];
  let seq = 0;
  try {
    rx.signal("SIGSTOP"); // kernel buffers fill, then the 8 MiB ring, then the queue
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 500; i++) h.handle({ msg: pad, seq: seq++ });
      await sleep(5);
    }
    ok(h.stats.queued > 0, "the ring was full: records wait in the queue");
    await rx.stop(); // SIGKILL: what its kernel held is lost, the ring is not
    seen.push(...rx.seen);
    rx = await CountReceiver.start(port, true);
    await h.close();
    await sleep(200);
  } finally {
    await h.close();
    await rx.stop();
    seen.push(...rx.seen);
  }
  const unique = new Set(seen);
  equal(unique.size, seen.length, "no duplicate");
  for (let i = 1; i < seen.length; i++) {
    ok(seen[i] > seen[i - 1], `in order at ${i}`);
  }
  let gaps = 0;
  for (let i = 1; i < seen.length; i++) if (seen[i] !== seen[i - 1] + 1) gaps++;
  console.log(
    `emitted ${seq}, delivered ${seen.length}, lost in the killed receiver's kernel ${
      seq - seen.length
    }, handler sent ${h.stats.sent}, dropped ${h.stats.dropped}`,
  );
  equal(h.stats.dropped, 0);
  equal(h.stats.sent, seq);
  ok(gaps <= 1, "one run lost: the killed receiver's kernel buffers");
  // Without the ring's frames sent again 8,403 of 20,000 were lost; with
  // them, 0 (kernel buffers could hold about 4,000 of these records).
  ok(seq - seen.length < 5_000, `${seq - seen.length} lost`);
  equal(seen.at(-1), seq - 1);
});

Deno.test("connection lost while close() waits for the I/O worker's ring: close() reconnects and sends what the ring held", async () => {
  let rx = await CountReceiver.start(0, true);
  const port = rx.port;
  const h = new SocketHandler("127.0.0.1", port, {
    retryStart: 0.05,
    retryMax: 0.1,
  });
  const pad = "r".repeat(1000);
  const seen: number[] = [];
  const n = 5_000; // fits in the kernel's buffers and the 8 MiB ring
  try {
    await h.flush(); // connected
    await sleep(200);
    rx.signal("SIGSTOP");
    for (let i = 0; i < n; i++) h.handle({ msg: pad, seq: i });
    await sleep(200);
    equal(h.stats.queued, 0, "everything went to the ring");
    const closed = h.close(); // waits for the ring; the send loop has ended
    await sleep(100);
    await rx.stop(); // SIGKILL
    seen.push(...rx.seen);
    await sleep(300);
    rx = await CountReceiver.start(port, true);
    await closed;
    await sleep(300);
  } finally {
    await h.close();
    await rx.stop();
    seen.push(...rx.seen);
  }
  const unique = new Set(seen);
  equal(unique.size, seen.length, "no duplicate");
  for (let i = 1; i < seen.length; i++) {
    ok(seen[i] > seen[i - 1], `in order at ${i}`);
  }
  console.log(
    `emitted ${n}, delivered ${seen.length}, lost in the killed receiver's kernel ${
      n - seen.length
    }, dropped ${h.stats.dropped}`,
  );
  equal(h.stats.dropped, 0);
  equal(h.stats.sent, n);
  equal(
    seen.at(-1),
    n - 1,
    "the ring's frames were sent on the new connection",
  );
});

Deno.test("records larger than the I/O worker's 8 MiB ring are delivered, in order with the rest", async () => {
  const rx = await CountReceiver.start(0, true);
  const h = new SocketHandler("127.0.0.1", rx.port);
  const huge = "h".repeat(20 * 1024 * 1024);
  try {
    let seq = 0;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 100; i++) h.handle({ msg: "small", seq: seq++ });
      h.handle({ msg: huge, seq: seq++ });
    }
    equal(await h.flush({ timeout: 30_000 }), true, "flushed");
    const c = await rx.waitFor(seq, 30_000);
    equal(c.records, seq);
    equal(c.seq_errors, 0);
    equal(h.stats.dropped, 0);
  } finally {
    await h.close();
    await rx.stop();
  }
});
