// The receiver under the attacks of issue 12, each with CPython's real
// SocketHandler sending alongside: a header flood, an idle flood, slow
// fill, and large frames. The receiver runs in a child process
// (tests/_receiver_child.ts) so its peak RSS can be held to the documented
// bounds: maxConnections × 64 KiB read buffers + maxBufferedBytes.
import { equal, ok } from "node:assert/strict";
import { dumps } from "../mod.ts";
import {
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_CONNECTIONS,
} from "../receiver.ts";
import { lengthPrefixed } from "./_helpers.ts";
import {
  type ChildStatus,
  pythonSender,
  ReceiverChild,
  type SenderResult,
  sleep,
} from "./_receiver.ts";

const MiB = 1024 * 1024;
/** The documented bound on what frame buffers hold, with the defaults. */
const BUFFER_BOUND = DEFAULT_MAX_CONNECTIONS * 64 * 1024 +
  DEFAULT_MAX_BUFFERED_BYTES;
/**
 * The bound on peak RSS growth where buffers grow: the buffers, the garbage
 * of their growth (each doubling leaves the old buffer to the GC: up to as
 * much again), and 32 MiB for the heap.
 */
const GROWTH_BOUND = 2 * BUFFER_BOUND + 32 * MiB;
/** Legitimate records must arrive within this long of being logged. */
const MAX_DELAY_MS = 1_000;

/** Opens `n` connections to `port` (100 at a time); those refused are left out. */
async function connectMany(port: number, n: number): Promise<Deno.Conn[]> {
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < n; i += 100) {
    const batch = await Promise.allSettled(
      Array.from(
        { length: Math.min(100, n - i) },
        () => Deno.connect({ hostname: "127.0.0.1", port }),
      ),
    );
    for (const r of batch) if (r.status === "fulfilled") conns.push(r.value);
  }
  return conns;
}

function closeAll(conns: Deno.Conn[]): void {
  for (const c of conns) {
    try {
      c.close();
    } catch {
      // closed by the receiver
    }
  }
}

/** Every record the CPython sender logged arrived, promptly, and its sends never failed. */
function checkServed(
  status: ChildStatus,
  name: string,
  sent: SenderResult,
): void {
  const got = status.clients[name];
  ok(got, `${name}: records arrived`);
  equal(sent.failures, 0, `${name}: no CPython send failed`);
  equal(sent.connects, 1, `${name}: one connection`);
  equal(got.n, sent.sent, `${name}: every record arrived`);
  ok(
    got.maxDelay < MAX_DELAY_MS,
    `${name}: slowest record took ${got.maxDelay} ms (limit ${MAX_DELAY_MS})`,
  );
}

/**
 * Runs `attack` while CPython's SocketHandler logs every 10 ms from before
 * it starts ("early") and from after it ("late": a new sender joining).
 */
async function withSenders(
  child: ReceiverChild,
  attack: () => Promise<void>,
): Promise<ChildStatus> {
  const early = pythonSender(child.port, "early", 5, 10);
  await sleep(700);
  await attack();
  const late = pythonSender(child.port, "late", 2.5, 10);
  const [e, l] = await Promise.all([early, late]);
  await sleep(200);
  const status = await child.status();
  checkServed(status, "early", e);
  checkServed(status, "late", l);
  const c = status.clients;
  console.log(
    `early: ${c.early.n} records, slowest ${c.early.maxDelay} ms; late: ${c.late.n}, slowest ${c.late.maxDelay} ms; stats ${
      JSON.stringify(status.stats)
    }`,
  );
  return status;
}

const HEADER_16MIB = new Uint8Array([1, 0, 0, 0]);

Deno.test("header flood: 1,100 headers declaring 16 MiB allocate nothing; CPython's senders are served", async () => {
  const child = await ReceiverChild.start({ frameTimeout: 2_000 });
  let conns: Deno.Conn[] = [];
  try {
    const idle = (await child.gc()).rss;
    const status = await withSenders(child, async () => {
      conns = await connectMany(child.port, 1_000);
      await Promise.allSettled(conns.map((c) => c.write(HEADER_16MIB)));
      await sleep(1_200);
      // More after a second: these take the places of stuck ones.
      const more = await connectMany(child.port, 100);
      await Promise.allSettled(more.map((c) => c.write(HEADER_16MIB)));
      conns.push(...more);
    });
    const s = status.stats;
    ok(
      s.refused + s.evicted >= 800,
      `refused ${s.refused}, evicted ${s.evicted}`,
    );
    ok(s.frameTimeouts > 0, `frame timeouts ${s.frameTimeouts}`);
    ok(s.openConnections <= DEFAULT_MAX_CONNECTIONS);
    const peak = child.peakRss() - idle;
    console.log(`peak RSS ${(peak / MiB).toFixed(1)} MiB over idle`);
    ok(peak < BUFFER_BOUND, `peak RSS grew ${peak / MiB} MiB`);
  } finally {
    closeAll(conns);
    await child.stop();
  }
});

Deno.test("idle flood: 1,100 silent connections beyond the cap; CPython's senders are served", async () => {
  const child = await ReceiverChild.start({ idleTimeout: 2_000 });
  let conns: Deno.Conn[] = [];
  try {
    const idle = (await child.gc()).rss;
    const status = await withSenders(child, async () => {
      conns = await connectMany(child.port, 1_000);
      await sleep(1_200);
      conns.push(...await connectMany(child.port, 100));
    });
    const s = status.stats;
    ok(
      s.refused + s.evicted >= 800,
      `refused ${s.refused}, evicted ${s.evicted}`,
    );
    ok(s.idleTimeouts > 0, `idle timeouts ${s.idleTimeouts}`);
    ok(s.openConnections <= DEFAULT_MAX_CONNECTIONS);
    const peak = child.peakRss() - idle;
    console.log(`peak RSS ${(peak / MiB).toFixed(1)} MiB over idle`);
    ok(peak < BUFFER_BOUND, `peak RSS grew ${peak / MiB} MiB`);
  } finally {
    closeAll(conns);
    await child.stop();
  }
});

Deno.test("slow fill: 250 connections filling 16 MiB frames stay within maxBufferedBytes; CPython's senders are served", async () => {
  const child = await ReceiverChild.start({ frameTimeout: 2_500 });
  let conns: Deno.Conn[] = [];
  let filling = true;
  let fills: Promise<unknown> = Promise.resolve();
  try {
    const idle = (await child.gc()).rss;
    const status = await withSenders(child, async () => {
      conns = await connectMany(child.port, 250);
      const chunk = new Uint8Array(64 * 1024).fill(0x58);
      fills = Promise.allSettled(conns.map(async (c) => {
        await c.write(HEADER_16MIB);
        while (filling) {
          await c.write(chunk);
          await sleep(250);
        }
      }));
      await sleep(1_200);
    });
    const s = status.stats;
    ok(s.overBudget > 0, `over budget ${s.overBudget}`);
    ok(s.frameTimeouts > 0, `frame timeouts ${s.frameTimeouts}`);
    ok(s.bufferedBytes <= DEFAULT_MAX_BUFFERED_BYTES);
    const peak = child.peakRss() - idle;
    console.log(`peak RSS ${(peak / MiB).toFixed(1)} MiB over idle`);
    ok(
      peak < GROWTH_BOUND,
      `peak RSS grew ${peak / MiB} MiB (bound ${GROWTH_BOUND / MiB})`,
    );
  } finally {
    filling = false;
    closeAll(conns);
    await fills;
    await child.stop();
  }
});

Deno.test("large frames: buffers go back to 64 KiB after them; CPython's senders are served", async () => {
  const child = await ReceiverChild.start();
  let conns: Deno.Conn[] = [];
  try {
    const first = await child.gc();
    const idle = first.rss;
    const before = first.external + first.heapUsed;
    const big = lengthPrefixed([
      dumps({ name: "big", msg: "x".repeat(8 * MiB - 100), created: 0 }),
    ]);
    await withSenders(child, async () => {
      conns = await connectMany(child.port, 6);
      for (let round = 0; round < 2; round++) {
        await Promise.all(conns.map(async (c) => {
          for (let off = 0; off < big.length;) {
            off += await c.write(big.subarray(off));
          }
        }));
      }
    });
    // The connections stay open; what their frames needed is released (RSS
    // itself may stay up: the allocator keeps freed pages for reuse).
    const after = await child.gc();
    equal(after.clients.big.n, 12);
    equal(after.stats.bufferedBytes, 0);
    const held = after.external + after.heapUsed;
    ok(
      held < before + 8 * MiB,
      `still held after the frames: ${held / MiB} MiB (before ${before / MiB})`,
    );
    // The peak also holds the 12 decoded 8 MiB messages.
    const peak = child.peakRss() - idle;
    console.log(
      `peak RSS ${(peak / MiB).toFixed(1)} MiB over idle; held after ${
        ((held - before) / MiB).toFixed(1)
      } MiB`,
    );
    ok(
      peak < GROWTH_BOUND + 12 * 8 * MiB,
      `peak RSS grew ${peak / MiB} MiB`,
    );
  } finally {
    closeAll(conns);
    await child.stop();
  }
});
