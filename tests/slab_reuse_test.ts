// Slabs reused once their frames are written (pickle/_writer.ts): a slab
// given back while a frame in it is still queued, or still being written,
// would send another record's bytes. Many varied records go through a real
// socket to a receiver that reads slowly (writes go partial and wait, with
// slab views in flight) or drops the connection part way (frames put back,
// and the I/O worker's unwritten ones recovered); every frame received is
// decoded for its `seq` and compared byte for byte with makePickle of that
// record, made after the run (makePickle's own slabs are never reused).
// Checked to fail when frames are released at take() instead of after the
// write (a corrupt frame), when a slab is reused with frames held, and
// when frames put back are released too.
import { deepEqual, equal, ok } from "node:assert/strict";
import { type LogRecordInit, makePickle, SocketHandler } from "../mod.ts";
import { loads } from "../pickle/decode.ts";
import { slabCounts } from "../pickle/_writer.ts";
import { makeCorpus } from "../bench/_corpus.ts";

/** Records per case: ~600 bytes each, so ~60 MB, ~900 slabs. */
const N = 100_000;
/** Distinct corpus records, taken in turn (each with its own seq). */
const POOL = 2_000;
/** The caller yields after this many records (it never awaits flush). */
const EVERY = 500;
/** The caller waits for a timer after this many records. */
const PACE = 5_000;
/** A slow receiver sleeps this long after each READ_BURST bytes. */
const PAUSE_MS = 5;
const READ_BURST = 256 << 10;
/**
 * Fewest slabs reused per case, or the case tests nothing (~900 written;
 * 118-960 reused in runs; a slab is reused only once all its frames left).
 */
const MIN_REUSED = 50;
/** A dropping receiver closes its first connection after this many bytes. */
const DROP_AFTER = 5 << 20;

interface Received {
  frames: Uint8Array[];
  connections: number;
}

/** A receiver that keeps every whole frame it reads (a cut one is dropped, as CPython's). */
function receive(
  listener: Deno.Listener,
  options: { slow: boolean; dropFirst: boolean },
): Received {
  const out: Received = { frames: [], connections: 0 };
  (async () => {
    for await (const conn of listener) {
      const first = out.connections++ === 0;
      (async () => {
        const buf = new Uint8Array(1 << 16);
        let pending = new Uint8Array(0);
        let total = 0;
        let sinceSleep = 0;
        try {
          for (;;) {
            const n = await conn.read(buf);
            if (n === null) break;
            total += n;
            const joined = new Uint8Array(pending.length + n);
            joined.set(pending);
            joined.set(buf.subarray(0, n), pending.length);
            let at = 0;
            while (joined.length - at >= 4) {
              const len = new DataView(joined.buffer, at).getUint32(0);
              if (joined.length - at - 4 < len) break;
              out.frames.push(joined.slice(at, at + 4 + len));
              at += 4 + len;
            }
            pending = joined.slice(at);
            if (first && options.dropFirst && total >= DROP_AFTER) break;
            sinceSleep += n;
            if (options.slow && sinceSleep >= READ_BURST) {
              sinceSleep = 0;
              await new Promise((r) => setTimeout(r, PAUSE_MS));
            }
          }
        } catch {
          // reset by the sender
        }
        try {
          conn.close();
        } catch {
          // closed
        }
      })();
    }
  })().catch(() => {});
  return out;
}

async function run(
  options: ConstructorParameters<typeof SocketHandler>[2],
  receiver: { slow: boolean; dropFirst: boolean },
  /** Whether every record must arrive (no drops, no lost connection). */
  complete = !receiver.dropFirst,
): Promise<void> {
  const pool = makeCorpus({ size: POOL, seed: 11 });
  const records: LogRecordInit[] = [];
  for (let i = 0; i < N; i++) records.push({ ...pool[i % POOL], seq: i });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const got = receive(listener, receiver);
  const h = new SocketHandler("127.0.0.1", port, {
    retryStart: 0.05,
    closeTimeout: 30_000,
    onError: () => {},
    ...options,
  });
  const reusedBefore = slabCounts.reused;
  for (let i = 0; i < N; i++) {
    h.handle(records[i]);
    if (i % EVERY === EVERY - 1) await new Promise((r) => setImmediate(r));
    // A timer turn now and then lets this thread's socket drain the queue
    // (it is polled about once every 57 turns): slabs come back meanwhile.
    if (i % PACE === PACE - 1) await new Promise((r) => setTimeout(r, 1));
  }
  await h.close();
  const stats = h.stats;
  const reused = slabCounts.reused - reusedBefore;
  // Slabs must be reused while frames are in flight, or this tests nothing.
  ok(reused >= MIN_REUSED, `${reused} slabs reused`);
  // The last frames may still be in the receiver's socket.
  for (let t = 0; t < 200; t++) {
    if (got.frames.length >= stats.sent - stats.notices) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 50));
  listener.close();

  equal(stats.failed, 0);
  equal(stats.emitted, N);
  let compared = 0;
  const seen = new Set<number>();
  for (const frame of got.frames) {
    const dict = loads(frame.subarray(4)) as Record<string, unknown>;
    if (dict.name === "pysocklog") continue; // a drop notice
    const seq = dict.seq as number;
    ok(Number.isInteger(seq) && seq >= 0 && seq < N, `bad seq ${seq}`);
    const want = makePickle(records[seq]);
    if (frame.length !== want.length || !frame.every((b, k) => b === want[k])) {
      // Which record's bytes it holds, if any, tells how it was corrupted.
      deepEqual(
        { seq, msg: dict.msg, length: frame.length },
        {
          seq,
          msg: loads(want.subarray(4))!["msg" as never],
          length: want.length,
        },
      );
      equal(frame, want);
    }
    seen.add(seq);
    compared++;
  }
  ok(compared > 0);
  if (complete) {
    // Nothing lost: every record arrived once, in order.
    equal(stats.dropped, 0);
    equal(compared, N);
    equal(seen.size, N);
  } else if (receiver.dropFirst) {
    ok(got.connections >= 2, "the handler reconnected");
    // Bytes in the dying receiver's kernel are lost, not more.
    ok(seen.size + stats.dropped >= N * 0.9, `${seen.size} of ${N} arrived`);
  } else {
    ok(stats.dropped > 0, "the small queue dropped records");
    equal(seen.size + stats.dropped, N);
  }
}

Deno.test("slabs reused: I/O worker, a slow receiver: every frame intact", () =>
  run({}, { slow: true, dropFirst: false }));

Deno.test("slabs reused: writes from the program's thread (slab views in flight), a slow receiver: every frame intact", () =>
  run({ ioWorker: false }, { slow: true, dropFirst: false }));

Deno.test("slabs reused: a connection lost part way (frames put back, the worker's recovered): every frame intact", async () => {
  await run({}, { slow: false, dropFirst: true });
  await run({ ioWorker: false }, { slow: false, dropFirst: true });
});

Deno.test("slabs reused: drop-oldest with a small queue (frames dropped from the front): every frame intact", () =>
  run(
    { ioWorker: false, maxQueueRecords: 2_000, overflow: "drop-oldest" },
    { slow: true, dropFirst: false },
    false,
  ));
