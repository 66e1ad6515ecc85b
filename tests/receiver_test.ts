// The receiver against real senders: CPython's own SocketHandler and
// DatagramHandler (spawned python3), our handlers, and hostile peers.
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { dumps, makePickle, SocketHandler } from "../mod.ts";
import { listen, type ReceivedRecord, type Receiver } from "../receiver.ts";
import { PickleDateTime, PickleObject } from "../pickle/decode.ts";
import { lengthPrefixed, prng, pyScript, runPython } from "./_helpers.ts";
import { ReceiverChild, sleep } from "./_receiver.ts";

/** Collects records from a receiver in the background. */
function collect(rx: Receiver): ReceivedRecord[] {
  const got: ReceivedRecord[] = [];
  (async () => {
    for await (const r of rx) got.push(r);
  })();
  return got;
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(5);
}

/** What we received, mapped as sender.py maps what it sent to JSON. */
function asSentJSON(r: ReceivedRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) {
    if (k === "when") continue;
    if (k === "big") out[k] = String(v);
    else if (v instanceof Uint8Array) out[k] = Array.from(v);
    else out[k] = JSON.parse(JSON.stringify(v));
  }
  out._has_when = "when" in r;
  return out;
}

async function pythonSends(kind: string, where: string, n: number) {
  const lines = await runPython([
    pyScript("sender.py"),
    kind,
    where,
    String(n),
  ]);
  return lines.trim().split("\n").map((l) =>
    JSON.parse(l) as Record<string, unknown>
  );
}

function checkSameAsSent(
  got: ReceivedRecord[],
  sent: Record<string, unknown>[],
) {
  equal(got.length, sent.length);
  const bySeq = new Map(got.map((r) => [r.seq as number, r]));
  for (const s of sent) {
    const r = bySeq.get(s.seq as number);
    ok(r, `record ${s.seq} arrived`);
    deepEqual(asSentJSON(r), s);
  }
}

Deno.test("CPython's SocketHandler (TCP) -> listen(): every field arrives equal", async () => {
  await using rx = await listen({ port: 0 });
  const got = collect(rx);
  const sent = await pythonSends(
    "tcp",
    String((rx.addr as Deno.NetAddr).port),
    200,
  );
  await until(() => got.length >= 200);
  checkSameAsSent(got, sent);
  // Spot checks of what the dicts hold.
  const e = got.find((r) => r.seq === 10)!;
  equal(e.levelname, "ERROR");
  equal(e.msg, "failed 10 of batch");
  match(
    e.exc_text as string,
    /^Traceback \(most recent call last\):\n[\s\S]*KeyError: 'missing'$/,
  );
  equal(e.big, 2n ** 100n + 10n);
  deepEqual(e.blob, new Uint8Array([0, 1, 255, 0, 1, 255, 0, 1, 255]));
  const w = got.find((r) => r.seq === 5)!;
  ok(w.when instanceof PickleDateTime, "a datetime extra is read as data");
  equal(String(w.when), "2024-01-02T03:04:05");
  equal(rx.stats.dropped, 0);
});

Deno.test("CPython's SocketHandler (Unix socket) -> listen()", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/rx.sock`;
    await using rx = await listen({ transport: "unix", path });
    const got = collect(rx);
    const sent = await pythonSends("unix", path, 50);
    await until(() => got.length >= 50);
    checkSameAsSent(got, sent);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CPython's DatagramHandler (UDP) -> listen()", async () => {
  await using rx = await listen({ transport: "udp", port: 0 });
  const got = collect(rx);
  const sent = await pythonSends(
    "udp",
    String((rx.addr as Deno.NetAddr).port),
    50,
  );
  await until(() => got.length >= 50, 5000);
  checkSameAsSent(got, sent);
});

Deno.test("many concurrent senders: every record once, each sender's in order", async () => {
  await using rx = await listen({ port: 0 });
  const got = collect(rx);
  const port = (rx.addr as Deno.NetAddr).port;
  const senders = Array.from(
    { length: 8 },
    () => new SocketHandler("127.0.0.1", port),
  );
  for (let i = 0; i < 1000; i++) {
    senders.forEach((h, s) => h.handle({ name: `s${s}`, msg: "n", s, i }));
  }
  await Promise.all(senders.map((h) => h.close()));
  await until(() => got.length >= 8000);
  equal(got.length, 8000);
  for (let s = 0; s < 8; s++) {
    const mine = got.filter((r) => r.s === s).map((r) => r.i);
    deepEqual(mine, Array.from({ length: 1000 }, (_, i) => i));
  }
  equal(rx.stats.connections, 8);
});

Deno.test("a consumer that is behind: TCP senders wait, nothing is lost", async () => {
  await using rx = await listen({ port: 0, maxBufferedRecords: 10 });
  const port = (rx.addr as Deno.NetAddr).port;
  await using h = new SocketHandler("127.0.0.1", port);
  for (let i = 0; i < 2000; i++) h.handle({ msg: "slow", i });
  let n = 0;
  for await (const r of rx) {
    equal(r.i, n++);
    if (n % 100 === 0) await sleep(1);
    if (n === 2000) break;
  }
  equal(rx.stats.dropped, 0);
});

/** A raw TCP connection to the receiver. */
async function raw(rx: Receiver): Promise<Deno.Conn> {
  return await Deno.connect({
    hostname: "127.0.0.1",
    port: (rx.addr as Deno.NetAddr).port,
  });
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array) {
  for (let off = 0; off < bytes.length;) {
    off += await conn.write(bytes.subarray(off));
  }
}

const unhex = (h: string) =>
  new Uint8Array(h.match(/../g)!.map((b) => parseInt(b, 16)));

Deno.test("hostile frames: nothing runs, nothing pollutes, the receiver keeps serving", async () => {
  const dir = await Deno.makeTempDir();
  const marker = `${dir}/pwned`;
  const h = JSON.parse(
    await runPython([pyScript("hostile.py"), marker]),
  ) as Record<string, string>;
  const errors: string[] = [];
  await using rx = await listen({
    port: 0,
    onError: (r) => errors.push(r.error.message),
  });
  const got = collect(rx);
  const valid = unhex(h.valid);
  try {
    // 1. Exploits, prototype keys, then a valid frame, on one connection.
    let conn = await raw(rx);
    await writeAll(
      conn,
      lengthPrefixed([
        unhex(h.shell),
        unhex(h.nested1),
        unhex(h.nested2),
        unhex(h.proto),
        valid,
      ]),
    );
    await until(() => got.length >= 4);
    equal(got.length, 4, "the bare exploit is not a dict: dropped");
    ok(got[0].payload instanceof PickleObject);
    equal(String((got[0].payload as PickleObject).global), "posix.system");
    ok(got[1].payload instanceof PickleObject);
    equal(String((got[1].payload as PickleObject).global), "__builtin__.eval"); // protocol 2 writes Python 2 names
    ok(Object.hasOwn(got[2], "__proto__"));
    deepEqual(Object.getOwnPropertyDescriptor(got[2], "__proto__")!.value, {
      polluted: 1,
    });
    equal(Object.getPrototypeOf(got[2]), Object.prototype);
    equal(({} as Record<string, unknown>).polluted, undefined);
    equal(got[3].msg, "still serving");

    // 2. Deep nesting, garbage and truncated pickles with honest lengths:
    // each frame is dropped, the connection goes on.
    const deep = new Uint8Array(100_000 * 2 + 3);
    deep[0] = 0x80;
    deep[1] = 2;
    for (let i = 0; i < 100_000; i++) deep[2 + i] = 0x28; // MARK
    deep.fill(0x5d, 100_002); // EMPTY_LIST ...
    deep[deep.length - 1] = 0x2e;
    const rand = prng(7);
    const garbage = Array.from(
      { length: 200 },
      () =>
        Uint8Array.from(
          { length: 1 + Math.floor(rand() * 300) },
          () => Math.floor(rand() * 256),
        ),
    );
    const ours = makePickle({ name: "ours", msg: "m" }).subarray(4);
    const cut = Array.from(
      { length: ours.length - 1 },
      (_, i) => ours.subarray(0, i),
    );
    await writeAll(conn, lengthPrefixed([deep, ...garbage, ...cut, valid]));
    await until(() => got.length >= 5);
    equal(got.length, 5);
    equal(got[4].msg, "still serving");

    // 3. A 2^32-1 length prefix: that connection is dropped, not the receiver.
    await writeAll(conn, new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    const buf = new Uint8Array(16);
    equal(await conn.read(buf).catch(() => null), null, "the receiver hung up");
    conn.close();
    conn = await raw(rx);
    await writeAll(conn, lengthPrefixed([valid]));
    await until(() => got.length >= 6);
    equal(got[5].msg, "still serving");

    // 4. A frame cut short by the sender closing.
    await writeAll(conn, new Uint8Array([0, 0, 0, 100, 0x80, 2]));
    conn.close();

    // 5. Fuzz: mutated valid frames (bounded), each with an honest length.
    const seeds = [
      unhex(h.valid),
      unhex(h.nested1),
      ours,
      dumps({ a: [1, 2n ** 80n, "x"], b: { c: null } }),
    ];
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 3000; i++) {
      const f = Uint8Array.from(seeds[i % seeds.length]);
      const edits = 1 + Math.floor(rand() * 4);
      for (let e = 0; e < edits; e++) {
        f[Math.floor(rand() * f.length)] = Math.floor(rand() * 256);
      }
      frames.push(
        rand() < 0.2 ? f.subarray(0, Math.floor(rand() * f.length)) : f,
      );
    }
    conn = await raw(rx);
    const before = got.length;
    await writeAll(conn, lengthPrefixed([...frames, valid]));
    await until(() => got.slice(before).some((r) => r.msg === "still serving"));
    ok(
      got.slice(before).some((r) => r.msg === "still serving"),
      "the valid frame after the fuzz arrived",
    );
    conn.close();
    equal(({} as Record<string, unknown>).polluted, undefined);
    equal(Object.getPrototypeOf({}), Object.prototype);
    ok(rx.stats.dropped >= 1 + 1 + 200 + cut.length + 1 + 1);

    // 6. UDP garbage does not stop a UDP receiver either.
    await using urx = await listen({
      transport: "udp",
      port: 0,
      onError: () => {},
    });
    const ugot = collect(urx);
    const { createSocket } = await import("node:dgram");
    const sock = createSocket("udp4");
    const uport = (urx.addr as Deno.NetAddr).port;
    const send = (b: Uint8Array) =>
      new Promise<void>((r) => sock.send(b, uport, "127.0.0.1", () => r()));
    for (const g of garbage.slice(0, 50)) await send(g);
    await send(lengthPrefixed([unhex(h.shell)]));
    await send(lengthPrefixed([valid]));
    sock.close();
    await until(() => ugot.length >= 1, 5000);
    equal(ugot.length, 1);
    equal(ugot[0].msg, "still serving");
  } finally {
    let pwned = true;
    try {
      await Deno.stat(marker);
    } catch {
      pwned = false;
    }
    await Deno.remove(dir, { recursive: true });
    equal(pwned, false, "no pickle ran a command");
  }
  ok(errors.length > 0, "dropped frames are reported");
});

Deno.test("close(): stops accepting and ends the iteration", async () => {
  const rx = await listen({ port: 0 });
  const port = (rx.addr as Deno.NetAddr).port;
  const done = (async () => {
    let n = 0;
    for await (const _ of rx) n++;
    return n;
  })();
  const h = new SocketHandler("127.0.0.1", port);
  h.handle({ msg: "one" });
  await h.close();
  await until(() => rx.stats.records === 1);
  await rx.close();
  equal(await done, 1);
  let refused = false;
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
  } catch (error) {
    refused = error instanceof Deno.errors.ConnectionRefused;
  }
  ok(refused);
});

Deno.test("UDP: datagrams the kernel drops while the receiver is busy are counted (stats.kernelDrops)", async () => {
  await using rx = await listen({ transport: "udp", port: 0 });
  const got = collect(rx);
  const port = (rx.addr as Deno.NetAddr).port;
  const sender = runPython([pyScript("udp_blast.py"), String(port), "20000"]);
  // Busy for 1 s: the socket's buffer (208 KiB by default) overflows.
  const end = Date.now() + 1_000;
  while (Date.now() < end) {
    // spin
  }
  equal(Number(await sender), 20_000);
  await until(() => got.length + (rx.stats.kernelDrops ?? 0) >= 20_000, 3000);
  await sleep(300); // the kernel's count is read at most every 100 ms
  const s = rx.stats;
  ok(
    s.kernelDrops !== null && s.kernelDrops > 0,
    `kernel drops ${s.kernelDrops}`,
  );
  equal(
    got.length + s.kernelDrops + s.dropped,
    20_000,
    "each datagram received or counted",
  );
});

Deno.test("UDP through Deno.listenDatagram (--unstable-net): CPython's DatagramHandler records arrive", async () => {
  // udpPath "listenDatagram" throws where it is not available.
  const child = await ReceiverChild.start(
    { transport: "udp", udpPath: "listenDatagram" },
    ["--unstable-net"],
  );
  try {
    const sent = await pythonSends("udp", String(child.port), 50);
    let status = await child.status();
    const n = () => status.clients["py.sender"]?.n ?? 0;
    for (let i = 0; i < 50 && n() < 50; i++) {
      await sleep(50);
      status = await child.status();
    }
    equal(n(), sent.length);
    equal(status.stats.dropped, 0);
  } finally {
    await child.stop();
  }
});

Deno.test("listen(): limits are checked up front", async () => {
  const bad: Record<string, unknown>[] = [
    { maxConnections: 0 },
    { maxConnections: 1.5 },
    { maxFrameBytes: -1 },
    { maxBufferedBytes: Number.NaN },
    { frameTimeout: 0 },
    { idleTimeout: -5 },
    { maxBufferedRecords: "10" },
    { udpPath: "raw" },
  ];
  for (const options of bad) {
    let error: unknown;
    try {
      await (await listen({ port: 0, ...options })).close();
    } catch (e) {
      error = e;
    }
    ok(error instanceof RangeError, `${JSON.stringify(options)} is refused`);
  }
  await (await listen({ port: 0, maxConnections: 1, frameTimeout: Infinity }))
    .close();
});
