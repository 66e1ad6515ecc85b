// Receiver defects found by the audit: each test failed on the code before
// its fix. CPython's own SocketHandler is the legitimate peer.
import { equal, ok } from "node:assert/strict";
import { listen, type Receiver } from "../receiver.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The `msg` numbers of up to `n` records, waiting at most 10 s for each. */
async function collect(rx: Receiver, n: number): Promise<number[]> {
  const seen: number[] = [];
  const it = rx[Symbol.asyncIterator]();
  while (seen.length < n) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const next = await Promise.race([
      it.next(),
      new Promise<null>((r) => timer = setTimeout(() => r(null), 10_000)),
    ]);
    clearTimeout(timer);
    if (next === null || next.done) break;
    seen.push(Number(String(next.value.msg).split(" ")[0]));
  }
  return seen;
}

/** Starts CPython logging `n` records of `size` characters through SocketHandler. */
function pythonLogs(port: number, n: number, size: number): Deno.ChildProcess {
  return new Deno.Command("python3", {
    args: [
      "-c",
      `import logging, logging.handlers, sys
h = logging.handlers.SocketHandler("127.0.0.1", ${port})
log = logging.getLogger("py")
log.addHandler(h)
log.propagate = False
for i in range(${n}):
    log.warning("%d %s", i, "x" * ${size})
h.close()`,
    ],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
}

Deno.test("records waiting for a consumer hold at most about maxBufferedBytes of frames; TCP senders wait, nothing is lost", async () => {
  const MiB = 1024 * 1024;
  await using rx = await listen({ port: 0, maxBufferedBytes: 4 * MiB });
  const port = (rx.addr as Deno.NetAddr).port;
  const python = pythonLogs(port, 40, MiB);
  // Nobody iterates yet: before the fix all 40 records (40 MiB) were held.
  let before = -1;
  for (let i = 0; i < 40 && rx.stats.records !== before; i++) {
    before = rx.stats.records;
    await sleep(250);
  }
  ok(
    rx.stats.records <= 6,
    `${rx.stats.records} records of 1 MiB held for a consumer with maxBufferedBytes 4 MiB`,
  );
  const seen = await collect(rx, 40);
  equal((await python.status).code, 0);
  equal(seen.join(), Array.from({ length: 40 }, (_, i) => i).join());
  equal(rx.stats.dropped, 0);
});

Deno.test("a consumer behind for longer than frameTimeout: the receiver's own pause does not close a sender's connection", async () => {
  await using rx = await listen({
    port: 0,
    maxBufferedRecords: 5,
    frameTimeout: 300,
    onError: () => {},
  });
  const port = (rx.addr as Deno.NetAddr).port;
  // 10 KB records: a 64 KiB read ends inside a frame, so the connection
  // holds part of one while it waits for the consumer.
  const python = pythonLogs(port, 200, 10_000);
  await sleep(1_500);
  const seen = await collect(rx, 200);
  equal((await python.status).code, 0);
  equal(rx.stats.frameTimeouts, 0);
  equal(seen.join(), Array.from({ length: 200 }, (_, i) => i).join());
  equal(rx.stats.dropped, 0);
});
