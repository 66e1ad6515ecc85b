// DatagramHandler against CPython's cookbook UDP receiver (it strips the
// 4-byte length and unpickles the rest).
import { deepEqual, equal, match, ok } from "node:assert/strict";
import {
  DatagramHandler,
  makeLogRecord,
  makePickle,
  MAX_DATAGRAM_BYTES,
} from "../mod.ts";
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
