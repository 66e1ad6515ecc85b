// The I/O worker's ring, through a real socket.
// - Its byte counts (CTL.HEAD, CTL.TAIL) wrap at 2^32 and are stored as
//   int32, so they turn negative past 2 GiB. A worker that read HEAD signed
//   never saw it equal its unsigned tail there: once caught up it wrote
//   empty views and posted "progress" without end (found by
//   bench:socket:memory: 10M records took 330 MB RSS and half the
//   records/s). Here the counts start just below 2^31 and 2^32, so a few
//   megabytes cross each point.
// - While nobody waits, the worker posts no message per write.
import { deepEqual, equal, ok } from "node:assert/strict";
import { IoWorker, type WorkerConn } from "../handlers/_worker_conn.ts";

/** Frames of this many bytes (prefix included). */
const FRAME = 1_000;
/** Frames sent: 4 MB, past the wrap point from 1 MiB below it. */
const FRAMES = 4_000;
const WRAP_MARGIN = 1 << 20;
/** "progress" messages a caught-up, idle worker may still post. */
const MOST_IDLE_MESSAGES = 2;
const IDLE_MS = 300;

function pos0(chunks: Uint8Array[]): number {
  return chunks.reduce((n, c) => n + c.length, 0);
}

function frame(i: number): Uint8Array {
  const f = new Uint8Array(FRAME);
  new DataView(f.buffer).setUint32(0, FRAME - 4);
  for (let k = 4; k < FRAME; k++) f[k] = (i * 7 + k) & 0xff;
  return f;
}

async function crossWrap(startAt: number): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const chunks: Uint8Array[] = [];
  const received = (async () => {
    const conn = await listener.accept();
    const buf = new Uint8Array(1 << 16);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    conn.close();
  })();
  const io = new IoWorker(1 << 20, startAt); // a 1 MiB ring: it fills and waits
  let progress = 0;
  io.onProgress = () => progress++;
  try {
    await io.ready;
    const conn: WorkerConn = await io.open({
      host: "127.0.0.1",
      port,
      tls: false,
      connectTimeout: 5_000,
    });
    if (startAt === 0) {
      // Nobody waits: the worker writes without a message per write (which
      // left ~120 bytes each in V8's old space; ~10,000 per 1M records).
      const quiet = frame(0);
      for (let i = 0; i < 100; i++) await conn.write(quiet);
      while (conn.pending > 0) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, IDLE_MS));
      equal(progress, 0);
      // Someone waits (flush): the next write is announced.
      await conn.write(quiet);
      if (conn.watch()) {
        while (progress === 0) await new Promise((r) => setTimeout(r, 5));
      }
      equal(conn.pending, 0);
    }
    let waiting: (() => void) | null = null;
    conn.onWaiting = (poll) => waiting = poll;
    const sent = new Uint8Array(FRAME * FRAMES);
    for (let i = 0; i < FRAMES; i++) sent.set(frame(i), i * FRAME);
    for (let at = 0; at < sent.length;) {
      at += await conn.write(sent.subarray(at));
    }
    while (conn.pending > 0) await new Promise((r) => setTimeout(r, 5));
    equal(waiting, null);
    equal(
      (conn.written - startAt) >>> 0,
      (startAt === 0 ? 101 * FRAME : 0) + sent.length,
    );
    // Caught up: the worker must wait for more, not spin.
    await new Promise((r) => setTimeout(r, IDLE_MS)); // messages posted before
    progress = 0;
    await new Promise((r) => setTimeout(r, IDLE_MS));
    ok(
      progress <= MOST_IDLE_MESSAGES,
      `an idle worker posted ${progress} messages in ${IDLE_MS} ms`,
    );
    conn.close();
    await received;
    const got = new Uint8Array(pos0(chunks));
    let pos = 0;
    for (const c of chunks) {
      got.set(c, pos);
      pos += c.length;
    }
    const quietBytes = startAt === 0 ? 101 * FRAME : 0;
    equal(pos, quietBytes + sent.length);
    deepEqual(
      got.subarray(0, quietBytes),
      new Uint8Array(quietBytes).map((_, k) => frame(0)[k % FRAME]),
    );
    deepEqual(got.subarray(quietBytes), sent);
  } finally {
    io.terminate();
    listener.close();
  }
}

Deno.test("the I/O worker crosses 2 GiB of a connection (int32 sign)", () =>
  crossWrap(2 ** 31 - WRAP_MARGIN));

Deno.test("the I/O worker crosses 4 GiB of a connection (wrap to 0)", () =>
  crossWrap(2 ** 32 - WRAP_MARGIN));

Deno.test("the I/O worker posts no message per write while nobody waits", () =>
  crossWrap(0));
