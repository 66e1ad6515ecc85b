// The viewer's feed without a browser: every record the viewer received is,
// for each page, either in a batch or counted by a gap in the sequence
// numbers the page sees (from the seq its hello names), exactly, also when
// the gap comes before the first batch or after the last one.
import { equal, ok } from "node:assert/strict";
import { serveViewer, type Viewer } from "../viewer/server.ts";
import { SocketHandler } from "../mod.ts";

/** What a page counts: the page's rule (viewer/page/app.js, addBatch). */
interface Count {
  /** The seq the hello named. */
  next: number | undefined;
  received: number;
  lost: number;
  /** `first` of the last batch, and its record count. */
  last: { first: number; records: number } | undefined;
}

/** An open feed: its hello is read; `count()` reads it to its end. */
interface Feed {
  next: number | undefined;
  count(): Promise<Count>;
}

async function openFeed(viewer: Viewer): Promise<Feed> {
  const res = await fetch(new URL("feed", viewer.url));
  equal(res.status, 200);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  async function* events(): AsyncGenerator<string> {
    for (;;) {
      let end: number;
      while ((end = buf.indexOf("\n\n")) >= 0) {
        const event = buf.slice(0, end);
        buf = buf.slice(end + 2);
        yield event;
      }
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
    }
  }
  const it = events();
  const hello = (await it.next()).value as string;
  ok(hello.includes("event: hello"), hello);
  const next = JSON.parse(/^data: (.*)$/m.exec(hello)![1]).next;
  return {
    next,
    async count() {
      const c: Count = { next, received: 0, lost: 0, last: undefined };
      let expected = typeof next === "number" ? next : -1;
      for await (const event of it) {
        const data = /^data: (.*)$/m.exec(event)?.[1];
        if (data === undefined) continue; // keepalive
        const { first, records } = JSON.parse(data);
        let start = 0;
        if (expected >= 0) {
          if (first > expected) c.lost += first - expected;
          else start = Math.min(records.length, expected - first);
        }
        expected = Math.max(expected, first + records.length);
        c.received += records.length - start;
        c.last = { first, records: records.length };
      }
      return c;
    },
  };
}

function startViewer(bufferRecords?: number) {
  return serveViewer({
    receivers: [{ transport: "tcp", port: 0 }],
    httpPort: 0,
    bufferRecords,
  });
}

function tcpPort(viewer: Viewer): number {
  return (viewer.receivers[0].addr as Deno.NetAddr).port;
}

async function waitRecords(viewer: Viewer, n: number) {
  while (viewer.stats.records < n) {
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("viewer feed: records that leave the history before a page's first batch are counted on it", async () => {
  // A history of 10 records and 1,000 records in one burst: by the first
  // batch (BATCH_INTERVAL_MS after the first record) most have left it.
  const viewer = await startViewer(10);
  const N = 1_000;
  let feed: Feed;
  try {
    feed = await openFeed(viewer);
    await using handler = new SocketHandler("127.0.0.1", tcpPort(viewer));
    for (let i = 0; i < N; i++) {
      handler.handle({ name: "burst", levelname: "INFO", msg: `m ${i}` });
    }
    await handler.flush();
    await waitRecords(viewer, N);
    // Past the first batch (100 ms after the first record).
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    await viewer.close();
  }
  const c = await feed.count();
  equal(c.received + c.lost, N, JSON.stringify(c));
  equal(c.next, 0, "the hello names the seq this page starts at");
  ok(viewer.stats.skipped > 0, "the history dropped records before the page");
  equal(c.lost, viewer.stats.skipped);
  ok(c.received >= 10, `${c.received} received`);
});

Deno.test("viewer feed: a page that stops reading gets its trailing gap counted when the viewer stops", async () => {
  // Seven strings of 30,000 characters: records of about 210,000 characters;
  // 200 are 42 MB, more than the feed's queue and the sockets' buffers
  // take, and more than the history's 32 Mi characters.
  const viewer = await startViewer();
  const part = "y".repeat(30_000);
  const big = Object.fromEntries(
    ["a", "b", "c", "d", "e", "f", "g"].map((k) => [k, part]),
  );
  const N = 200;
  let feed: Feed;
  let closing: Promise<void>;
  try {
    feed = await openFeed(viewer); // and not read until the viewer stops
    await using handler = new SocketHandler("127.0.0.1", tcpPort(viewer));
    for (let i = 0; i < N; i++) {
      handler.handle({
        name: "big",
        levelname: "INFO",
        msg: `big ${i}`,
        ...big,
      });
      if (i % 10 === 9) await handler.flush();
    }
    await handler.flush();
    await waitRecords(viewer, N);
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    closing = viewer.close(); // the feed ends once the page has read it
  }
  const c = await feed.count();
  await closing;
  equal(c.received + c.lost, N, JSON.stringify(c));
  equal(c.next, 0);
  ok(c.lost > 0, `${c.lost} lost: the feed was blocked`);
  equal(c.lost, viewer.stats.skipped);
  // The last message is the empty batch past the last seq.
  equal(c.last?.first, N);
  equal(c.last?.records, 0);
});
