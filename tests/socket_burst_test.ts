// SocketHandler with default options against a real CPython receiver
// (tests/_py/count_receiver.py: pickle.loads on every frame, nothing
// printed per record): bursts from a caller that never awaits, and a
// receiver restarted under a steady stream.
import { deepEqual, equal, ok } from "node:assert/strict";
import { SocketHandler } from "../mod.ts";
import { pyScript } from "./_helpers.ts";
import { sleep } from "./_receiver.ts";

interface Counts {
  records: number;
  notices: number;
  dropped: number;
  seq_errors: number;
  bytes: number;
}

/** count_receiver.py as a child: its port, and its counts on demand. */
class CountReceiver {
  port = 0;
  #child: Deno.ChildProcess;
  #lines: ReadableStreamDefaultReader<string>;
  #buf = "";

  private constructor(port: number) {
    this.#child = new Deno.Command("python3", {
      args: ["-u", pyScript("count_receiver.py"), String(port)],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#lines = this.#child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
  }

  static async start(port = 0): Promise<CountReceiver> {
    const r = new CountReceiver(port);
    r.port = Number((await r.#line()).split(" ")[1]);
    return r;
  }

  async #line(): Promise<string> {
    while (!this.#buf.includes("\n")) {
      const { value, done } = await this.#lines.read();
      if (done) throw new Error("count_receiver.py ended");
      this.#buf += value;
    }
    const i = this.#buf.indexOf("\n");
    const line = this.#buf.slice(0, i);
    this.#buf = this.#buf.slice(i + 1);
    return line;
  }

  async #ask<T>(command: string): Promise<T> {
    const w = this.#child.stdin.getWriter();
    await w.write(new TextEncoder().encode(command + "\n"));
    w.releaseLock();
    return JSON.parse(await this.#line());
  }

  counts(): Promise<Counts> {
    return this.#ask("REPORT");
  }

  seqs(): Promise<number[]> {
    return this.#ask("SEQS");
  }

  /** Waits until `n` records (and notices) arrived, or `ms` passed. */
  async waitFor(n: number, ms = 20_000): Promise<Counts> {
    const end = Date.now() + ms;
    let c = await this.counts();
    while (c.records + c.notices < n && Date.now() < end) {
      await sleep(50);
      c = await this.counts();
    }
    return c;
  }

  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // gone
    }
    await this.#child.status;
    await this.#child.stdin.close().catch(() => {});
    await this.#lines.cancel().catch(() => {});
  }
}

// Records from four call sites, as an application logs them.
const SITES = [
  (i: number) => ({
    name: "app.db",
    levelno: 20,
    msg: "query %s took %.2f ms",
    args: ["SELECT * FROM users WHERE id = ?", i / 7],
    seq: i,
    pathname: "/srv/app/db.ts",
    lineno: 120,
    funcName: "query",
  }),
  (i: number) => ({
    name: "app.http",
    levelno: 20,
    msg: "request %d handled in %.3f ms for user %s",
    args: [i, 1.5, "alice"],
    seq: i,
    user: "alice",
    status: 200,
  }),
  (i: number) => ({
    name: "app.auth",
    levelno: 30,
    msg: "login failed for %s from %s",
    args: ["bob" + (i % 97), "10.0.0." + (i % 255)],
    seq: i,
    attempts: i % 5,
  }),
  (i: number) => ({
    name: "app.jobs",
    levelno: 10,
    msg: "job %d step %d of %d",
    args: [i % 1000, i % 7, 7],
    seq: i,
    tags: ["a", "b"],
  }),
];

const BURST = 200_000;

for (const every of [100, 500, 2000]) {
  Deno.test(`burst: ${BURST} records, setImmediate every ${every}, never awaiting, default options: zero drops`, async () => {
    const rx = await CountReceiver.start();
    const h = new SocketHandler("127.0.0.1", rx.port);
    try {
      for (let i = 0; i < BURST; i++) {
        h.handle(SITES[i & 3](i));
        if (i % every === every - 1) {
          await new Promise((r) => setImmediate(r));
        }
      }
      const most = h.stats.queued;
      await h.close();
      const c = await rx.waitFor(BURST);
      console.log(
        `E=${every}: dropped ${h.stats.dropped}, queued at the end of the calls ${most}`,
      );
      equal(h.stats.dropped, 0);
      equal(h.stats.sent, BURST);
      equal(c.records, BURST);
      equal(c.notices, 0);
      equal(c.seq_errors, 0, "every record once, in order");
    } finally {
      await h.close();
      await rx.stop();
    }
  });
}

Deno.test("10 receiver restarts during a steady stream: no duplicate, no corrupt frame, loss <= 0.5%", async () => {
  let rx = await CountReceiver.start();
  const port = rx.port;
  const h = new SocketHandler("127.0.0.1", port, {
    retryStart: 0.05,
    retryMax: 0.1,
  });
  const seen: number[] = [];
  let seq = 0;
  try {
    for (let restart = 0; restart < 10; restart++) {
      // About 2,000 records/s for 300 ms.
      for (let tick = 0; tick < 60; tick++) {
        for (let k = 0; k < 10; k++) h.handle(SITES[seq & 3](seq++));
        await sleep(5);
      }
      seen.push(...await rx.seqs());
      await rx.stop(); // SIGKILL: what its kernel held is lost
      rx = await CountReceiver.start(port);
    }
    for (let tick = 0; tick < 60; tick++) {
      for (let k = 0; k < 10; k++) h.handle(SITES[seq & 3](seq++));
      await sleep(5);
    }
    await h.close();
    await sleep(100);
    seen.push(...await rx.seqs());
  } finally {
    await h.close();
    await rx.stop();
  }
  const unique = new Set(seen);
  equal(unique.size, seen.length, "no duplicate");
  for (let i = 1; i < seen.length; i++) {
    ok(seen[i] > seen[i - 1], `in order at ${i}`);
  }
  const lost = seq - seen.length;
  console.log(
    `emitted ${seq}, delivered ${seen.length}, lost ${lost} (${
      (100 * lost / seq).toFixed(2)
    }%), reconnects ${h.stats.reconnects}, handler dropped ${h.stats.dropped}`,
  );
  ok(lost <= seq * 0.005, `lost ${lost} of ${seq}`);
  // Runs of lost records: with Nagle's algorithm every restart lost its
  // last write (10 runs, 20 records); with TCP_NODELAY none did (0 of 3 runs).
  let gaps = 0;
  for (let i = 1; i < seen.length; i++) if (seen[i] !== seen[i - 1] + 1) gaps++;
  ok(gaps <= 5, `${gaps} of 10 restarts lost records`);
  equal(h.stats.dropped, 0);
  ok(h.stats.reconnects >= 10);
  deepEqual(seen.at(-1), seq - 1, "the last record arrived");
});
