// The I/O worker's byte counts (CTL.HEAD, CTL.TAIL) wrap at 2^32 and are
// stored as int32, so they turn negative past 2 GiB. A worker that read
// HEAD signed never saw it equal its unsigned tail there: once it had
// caught up it wrote empty views and posted "progress" without end (found
// by bench:socket:memory: 10M records took 330 MB RSS and half the
// records/s). Here the counts start just below 2^31 and 2^32, so a few
// megabytes through a real socket cross each point.
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
    let waiting: (() => void) | null = null;
    conn.onWaiting = (poll) => waiting = poll;
    const sent = new Uint8Array(FRAME * FRAMES);
    for (let i = 0; i < FRAMES; i++) sent.set(frame(i), i * FRAME);
    for (let at = 0; at < sent.length;) {
      at += await conn.write(sent.subarray(at));
    }
    while (conn.pending > 0) await new Promise((r) => setTimeout(r, 5));
    equal(waiting, null);
    equal((conn.written - startAt) >>> 0, sent.length);
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
    const got = new Uint8Array(sent.length);
    let pos = 0;
    for (const c of chunks) {
      got.set(c, pos);
      pos += c.length;
    }
    equal(pos, sent.length);
    deepEqual(got, sent);
  } finally {
    io.terminate();
    listener.close();
  }
}

Deno.test("the I/O worker crosses 2 GiB of a connection (int32 sign)", () =>
  crossWrap(2 ** 31 - WRAP_MARGIN));

Deno.test("the I/O worker crosses 4 GiB of a connection (wrap to 0)", () =>
  crossWrap(2 ** 32 - WRAP_MARGIN));
