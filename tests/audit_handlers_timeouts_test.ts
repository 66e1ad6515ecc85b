// Audit of the sending side: timeouts past what setTimeout holds (2^31-1
// ms), and what flush({ timeout }) says when close() drops its records.
import { equal, ok, throws } from "node:assert/strict";
import { SocketHandler } from "../mod.ts";
import { freePort, PyReceiver, sleep } from "./_receiver.ts";

Deno.test("timeouts past a timer's range: closeTimeout and flush({ timeout }) Infinity wait; connectTimeout must fit a timer", async () => {
  const port = freePort();
  const h = new SocketHandler("127.0.0.1", port, {
    closeTimeout: Infinity,
    retryStart: 0.1,
    retryMax: 0.1,
    onError: () => {},
  });
  let rx: PyReceiver | undefined;
  try {
    h.handle({ msg: "waits" });
    // setTimeout turns a delay past 2^31-1 ms into 1 ms: flush gave up at once.
    const early = await Promise.race([
      h.flush({ timeout: Infinity }),
      sleep(300).then(() => "pending"),
    ]);
    equal(early, "pending");
    equal(
      await Promise.race([
        h.flush({ timeout: 2 ** 31 }),
        sleep(300).then(() => "pending"),
      ]),
      "pending",
    );
    const closed = h.close();
    await sleep(500);
    rx = await PyReceiver.start("tcp", port);
    await closed;
    equal(h.stats.sent, 1);
    equal(h.stats.dropped, 0);
    await rx.waitFor(1);
    equal(rx.records.length, 1);
  } finally {
    await h.close();
    await rx?.stop();
  }
  for (const connectTimeout of [Infinity, 2 ** 31]) {
    throws(
      () => new SocketHandler("127.0.0.1", 9020, { connectTimeout }),
      RangeError,
      String(connectTimeout),
    );
  }
});

Deno.test("a retry wait past a timer's range does not wake the send loop every millisecond", async () => {
  let attempts = 0;
  class Counting extends SocketHandler {
    protected override ensureOpen(): Promise<boolean> {
      attempts++;
      return super.ensureOpen();
    }
  }
  // 30 days: 2.6e9 ms, past setTimeout's 2^31-1.
  const h = new Counting("127.0.0.1", freePort(), {
    retryStart: 30 * 86_400,
    retryMax: 30 * 86_400,
    closeTimeout: 0,
    onError: () => {},
  });
  try {
    h.handle({ msg: "x" });
    await sleep(400);
    ok(attempts <= 3, `the send loop ran ${attempts} times in 400 ms`);
  } finally {
    await h.close();
  }
});

Deno.test("flush({ timeout }) resolves false when close() drops the records it waits for", async () => {
  const h = new SocketHandler("127.0.0.1", freePort(), {
    closeTimeout: 200,
    onError: () => {},
  });
  h.handle({ msg: "never sent" });
  const flushed = h.flush({ timeout: 5_000 });
  await h.close();
  equal(h.stats.dropped, 1);
  equal(await flushed, false);
});
