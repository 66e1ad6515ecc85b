// Drop notices: records a handler drops after accepting them are announced
// to the receiver, so that on the receiving side delivered + the sum of
// `dropped` in notices = emitted (with a real CPython receiver).
import { deepEqual, equal, ok } from "node:assert/strict";
import { SocketHandler } from "../mod.ts";
import { freePort, PyReceiver, type PyRecord, sleep } from "./_receiver.ts";
import { CountReceiver } from "./_count_receiver.ts";

const PAD = "x".repeat(1000);

function split(records: PyRecord[]) {
  const notices = records.filter((r) => r.name === "pysocklog");
  const others = records.filter((r) => r.name !== "pysocklog");
  let dropped = 0;
  for (const n of notices) {
    equal(n.levelno, 30);
    equal(n.levelname, "WARNING");
    equal(n._types.dropped, "int");
    equal(n._types.reason, "str");
    equal(n.msg, `${n.dropped} log records were dropped (${n.reason})`);
    dropped += n.dropped as number;
  }
  return { notices, others, dropped };
}

Deno.test("drop notices: receiver stalled, then resumed, small maxQueueRecords: delivered + dropped = emitted, exactly", async () => {
  // count_receiver.py: pickle.loads and makeLogRecord on every frame, checks
  // each notice against the contract, prints nothing per record.
  const rx = await CountReceiver.start();
  const h = new SocketHandler("127.0.0.1", rx.port, { maxQueueRecords: 100 });
  let stopped = false;
  try {
    for (let i = 0; i < 500; i++) h.handle({ msg: "before", seq: i });
    await h.flush();
    rx.signal("SIGSTOP"); // it stops reading: kernel buffers, the ring, then the queue fill
    stopped = true;
    let emitted = 500;
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 1000; i++) {
        h.handle({ msg: "stalled %s", args: [PAD], seq: emitted++ });
      }
      await sleep(5);
    }
    ok(h.stats.dropped > 0, "the queue overflowed");
    rx.signal("SIGCONT");
    stopped = false;
    for (let i = 0; i < 500; i++) h.handle({ msg: "after", seq: emitted++ });
    await h.close();
    const s = h.stats;
    equal(s.emitted, emitted);
    equal(s.sent + s.dropped, emitted);
    const c = await rx.waitFor(s.sent + s.notices, 30_000);
    console.log(
      `emitted ${emitted}, delivered ${c.records}, dropped ${c.dropped} in ${c.notices} notices`,
    );
    equal(c.notices, s.notices);
    ok(c.notices >= 1);
    equal(c.bad_notices, 0, "every notice as the contract says");
    deepEqual(c.reasons, ["queue full"]);
    equal(c.records, s.sent);
    equal(c.dropped, s.dropped);
    equal(c.records + c.dropped, emitted, "delivered + dropped = emitted");
    equal(c.seq_back, 0, "delivered records keep their order, once each");
  } finally {
    if (stopped) rx.signal("SIGCONT");
    await h.close();
    await rx.stop();
  }
});

Deno.test("drop notices: dropWhileDown drops are announced on reconnection, before the next record", async () => {
  const port = freePort();
  const h = new SocketHandler("127.0.0.1", port, {
    dropWhileDown: true,
    retryStart: 0.05,
    retryMax: 0.1,
  });
  let rx: PyReceiver | null = null;
  try {
    await sleep(200); // the eager connection attempt failed
    for (let i = 0; i < 10; i++) h.handle({ msg: "while down" });
    equal(h.stats.dropped, 10);
    rx = await PyReceiver.start("tcp", port);
    await sleep(300); // reconnected by the retry timer
    h.handle({ msg: "back" });
    await h.flush();
    await rx.waitFor(2);
    equal(rx.records.length, 2);
    equal(rx.records[0].name, "pysocklog");
    equal(rx.records[0].msg, "10 log records were dropped (receiver down)");
    equal(rx.records[0].dropped, 10);
    equal(rx.records[1].msg, "back");
  } finally {
    await h.close();
    await rx?.stop();
  }
});

Deno.test("drop notices: counts merge while a notice waits; dropNotices: false sends none", async (t) => {
  for (const dropNotices of [true, false]) {
    await t.step(`dropNotices: ${dropNotices}`, async () => {
      const port = freePort();
      const h = new SocketHandler("127.0.0.1", port, {
        maxQueueRecords: 3,
        retryStart: 0.05,
        retryMax: 0.1,
        dropNotices,
      });
      let rx: PyReceiver | null = null;
      try {
        for (let i = 0; i < 5; i++) h.handle({ msg: "a", seq: i }); // 2 dropped
        await sleep(100);
        for (let i = 5; i < 9; i++) h.handle({ msg: "b", seq: i }); // 4 more
        equal(h.stats.dropped, 6);
        rx = await PyReceiver.start("tcp", port);
        await h.close();
        await rx.waitFor(dropNotices ? 4 : 3);
        await sleep(100);
        const { notices, others, dropped } = split(rx.records);
        equal(others.length, 3);
        if (dropNotices) {
          equal(notices.length, 1, "one notice for both overflows");
          equal(dropped, 6);
          equal(rx.records[0].name, "pysocklog", "before the next frame");
        } else {
          equal(notices.length, 0);
        }
      } finally {
        await h.close();
        await rx?.stop();
      }
    });
  }
});

Deno.test("drop notices: an encoding failure is counted in stats.failed, not announced", async () => {
  const rx = await PyReceiver.start("tcp");
  const errors: unknown[] = [];
  const h = new SocketHandler("127.0.0.1", rx.port, {
    onError: (e) => errors.push(e),
  });
  try {
    h.handle({ msg: "%d", args: ["nan"] });
    h.handle({ msg: "fine" });
    await h.close();
    await rx.waitFor(1);
    await sleep(100);
    equal(rx.records.length, 1);
    equal(rx.records[0].msg, "fine");
    equal(h.stats.failed, 1);
    equal(h.stats.dropped, 0);
    equal(errors.length, 1);
  } finally {
    await rx.stop();
  }
});
