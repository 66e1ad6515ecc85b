// Audit of the sending side: records logged while close() runs, and after
// it, are counted, announced to the receiver (CPython) when it can still
// hear, and reported.
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { SocketHandler } from "../mod.ts";
import { CountReceiver } from "./_count_receiver.ts";
import { FrameCounter, freePort } from "./_receiver.ts";

for (const ioWorker of [false, true]) {
  Deno.test(`records logged while close() runs are announced to the receiver (ioWorker: ${ioWorker}); after close they are counted and reported`, async () => {
    const rx = await CountReceiver.start();
    const errors: unknown[] = [];
    const h = new SocketHandler("127.0.0.1", rx.port, {
      ioWorker,
      onError: (e) => errors.push(e),
    });
    try {
      for (let i = 0; i < 10; i++) h.handle({ msg: "m", seq: i });
      const closing = h.close();
      for (let i = 10; i < 15; i++) h.handle({ msg: "late", seq: i });
      await closing;
      // Below the level after close: not emitted, not dropped.
      h.setLevel("ERROR");
      equal(h.handle({ levelno: 10, msg: "debug" }), false);
      equal(h.handle({ levelno: 40, msg: "after" }), false);
      const s = h.stats;
      equal(s.emitted, 16);
      equal(s.sent, 10);
      equal(s.dropped, 6);
      equal(s.emitted, s.sent + s.dropped + s.failed);
      const c = await rx.waitFor(11, 10_000);
      equal(c.records, 10);
      equal(c.notices, 1);
      equal(c.dropped, 5, "the 5 records logged during close() announced");
      deepEqual(c.reasons, ["closing"]);
      equal(errors.length, 1, String(errors));
      match(String(errors[0]), /closed/);
    } finally {
      await h.close();
      await rx.stop();
    }
  });
}

Deno.test("close() while the I/O worker is still starting returns at once (it waited out the worker's 10 s start bound)", async () => {
  const sink = new FrameCounter(
    Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const errors: unknown[] = [];
  const h = new SocketHandler("127.0.0.1", sink.port, {
    ioWorker: true,
    closeOnError: false,
    onError: (e) => errors.push(e),
  });
  try {
    await h.flush(); // nothing queued: resolves while the worker starts
    const t0 = performance.now();
    await h.close();
    const ms = performance.now() - t0;
    ok(ms < 3_000, `close() took ${Math.round(ms)} ms`);
    deepEqual(errors, [], "closing is no error to report");
  } finally {
    sink.close();
  }
});

Deno.test("close() reports only what it dropped: a record logged after it is not blamed on the close timeout", async () => {
  const sink = new FrameCounter(
    Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const errors: string[] = [];
  const h = new SocketHandler("127.0.0.1", sink.port, {
    onError: (e) => errors.push(String(e)),
  });
  try {
    h.handle({ msg: "sent" });
    await h.flush();
    const closing = h.close(); // nothing queued: closed at once
    h.handle({ msg: "late" });
    await closing;
    equal(h.stats.sent, 1);
    equal(h.stats.dropped, 1);
    equal(errors.length, 1, errors.join("\n"));
    match(errors[0], /HandlerClosed/);
  } finally {
    sink.close();
  }
});

Deno.test("drops whose notice never reached the receiver are reported at close() and at exit", async () => {
  const errors: string[] = [];
  const h = new SocketHandler("127.0.0.1", freePort(), {
    maxQueueRecords: 2,
    closeTimeout: 200,
    onError: (e) => errors.push(String(e)),
  });
  for (let i = 0; i < 5; i++) h.handle({ msg: "m" }); // 3 dropped: queue full
  await h.close();
  equal(h.stats.dropped, 5);
  const text = errors.join("\n");
  match(text, /2 log records were dropped \(close timeout/);
  match(
    text,
    /3 log records were dropped \(queue full\); the receiver was not told/,
  );

  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(
    file,
    `import { SocketHandler } from "${
      new URL("../mod.ts", import.meta.url).href
    }";
const h = new SocketHandler("127.0.0.1", Number(Deno.args[0]), { maxQueueRecords: 2 });
for (let i = 0; i < 5; i++) h.handle({ msg: "m" });
Deno.exit(0);
`,
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", file, String(freePort())],
    stderr: "piped",
    stdout: "null",
    env: { NO_COLOR: "1" },
    signal: AbortSignal.timeout(20_000),
  }).output();
  await Deno.remove(file);
  const err = new TextDecoder().decode(out.stderr);
  match(err, /2 log records were dropped \(exit\)/);
  match(
    err,
    /3 log records were dropped \(queue full\); the receiver was not told/,
  );
});
