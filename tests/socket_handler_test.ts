// SocketHandler against real peers: a CPython receiver (the cookbook's
// pickle.loads + makeLogRecord) over TCP and a Unix socket, and Deno peers
// that refuse, stall or speak TLS.
import { deepEqual, equal, ok } from "node:assert/strict";
import { makeLogRecord, SocketHandler } from "../mod.ts";
import { FrameCounter, freePort, PyReceiver, sleep } from "./_receiver.ts";

function record(seq: number) {
  return makeLogRecord({
    name: "app.db",
    levelname: "INFO",
    msg: "request %d handled in %.3f ms",
    args: [seq, seq / 7],
    pathname: "/srv/app/main.ts",
    lineno: 42,
    funcName: "handle",
  }, { seq, user: "alice", tags: ["a", "b"] });
}

function checkInOrder(got: Record<string, unknown>[], n: number) {
  equal(got.length, n);
  for (let i = 0; i < n; i++) {
    const r = got[i];
    equal(r.seq, i);
    equal(r._message, `request ${i} handled in ${(i / 7).toFixed(3)} ms`);
    equal(r.msg, r._message);
    equal(r.name, "app.db");
    equal(r.levelname, "INFO");
    equal(r.levelno, 20);
    equal(r.lineno, 42);
    equal(r.funcName, "handle");
    equal(r.user, "alice");
    deepEqual(r.tags, ["a", "b"]);
    equal((r._types as Record<string, string>).created, "float");
    equal(r.args, null);
  }
}

Deno.test("TCP: 2,000 records reach a CPython receiver once, in order, fields equal", async () => {
  const rx = await PyReceiver.start("tcp");
  const h = new SocketHandler("127.0.0.1", rx.port);
  try {
    for (let i = 0; i < 2000; i++) h.handle(record(i));
    await h.flush();
    await rx.waitFor(2000);
    checkInOrder(rx.records, 2000);
    const s = h.stats;
    equal(s.sent, 2000);
    equal(s.emitted, 2000);
    equal(s.dropped + s.failed + s.queued, 0);
    equal(s.connected, true);
  } finally {
    await h.close();
    await rx.stop();
  }
  equal(rx.stderr, "");
});

Deno.test("Unix socket: records reach a CPython receiver in order", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/log.sock`;
  const rx = await PyReceiver.start("unix", path);
  const h = new SocketHandler(path, null);
  try {
    for (let i = 0; i < 500; i++) h.handle(record(i));
    await h.flush();
    await rx.waitFor(500);
    checkInOrder(rx.records, 500);
  } finally {
    await h.close();
    await rx.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("receiver down at start, then up: the retry timer delivers every queued record", async () => {
  const port = freePort();
  const h = new SocketHandler("127.0.0.1", port, {
    retryStart: 0.05,
    retryMax: 0.2,
  });
  for (let i = 0; i < 300; i++) h.handle(record(i));
  await sleep(300); // a few refused attempts
  equal(h.stats.connected, false);
  ok(h.retryTime !== null);
  equal(h.stats.queued, 300);
  const rx = await PyReceiver.start("tcp", port);
  try {
    // No further log call: the timer reconnects.
    await rx.waitFor(300);
    checkInOrder(rx.records, 300);
    equal(h.retryTime, null);
  } finally {
    await h.close();
    await rx.stop();
  }
});

Deno.test("receiver killed and restarted mid-stream: no duplicates, no corrupted frame", async () => {
  const rx1 = await PyReceiver.start("tcp");
  const port = rx1.port;
  const h = new SocketHandler("127.0.0.1", port, {
    retryStart: 0.05,
    retryMax: 0.1,
  });
  const total = 3000;
  let rx2: PyReceiver | null = null;
  try {
    for (let i = 0; i < total; i++) {
      h.handle(record(i));
      if (i % 50 === 49) await sleep(5);
      if (i === 1000) await rx1.stop(true);
      if (i === 1500) rx2 = await PyReceiver.start("tcp", port);
    }
    await h.flush();
    await rx2!.waitFor(1, 5000);
    await sleep(200);
    const seqs = [...rx1.records, ...rx2!.records].map((r) => r.seq as number);
    const unique = new Set(seqs);
    equal(unique.size, seqs.length, "duplicates");
    // order is kept within each connection's life
    for (let i = 1; i < seqs.length; i++) {
      ok(seqs[i] > seqs[i - 1], `order at ${i}`);
    }
    ok(seqs.at(-1) === total - 1, "the last record arrived");
    equal(rx2!.stderr, "", "a corrupted frame would show as a traceback");
    console.log(
      `delivered ${seqs.length}/${total}; lost with the killed receiver ${
        total - seqs.length
      }; ` +
        `reconnects ${h.stats.reconnects}`,
    );
    ok(h.stats.reconnects >= 1);
  } finally {
    await h.close();
    await rx2?.stop();
  }
});

Deno.test("a receiver that stops reading: emit returns, the queue stays at its bound, drops are counted", async () => {
  const sink = new FrameCounter(
    Deno.listen({ hostname: "127.0.0.1", port: 0 }),
    false,
  );
  const maxQueueBytes = 1 << 20;
  const h = new SocketHandler("127.0.0.1", sink.port, {
    maxQueueBytes,
    closeTimeout: 200,
  });
  try {
    const n = 50_000;
    for (let i = 0; i < n; i++) {
      h.handle(record(i)); // synchronous: returns whatever the socket does
      if (i % 5000 === 0) await sleep(1); // let the loop run and fill the socket
    }
    const s = h.stats;
    ok(s.queuedBytes <= maxQueueBytes, `queuedBytes ${s.queuedBytes}`);
    ok(s.dropped > 0);
    equal(s.emitted, n);
    equal(s.sent + s.dropped + s.queued, n);
    // How long a log call takes meanwhile is measured by bench:socket
    // (its stalled-receiver rows), never asserted in a test.
  } finally {
    await h.close();
    sink.close();
  }
});

Deno.test("backoff: CPython's createSocket schedule 1, 2, 4, 8, 16, 30, 30 for the defaults", async () => {
  const port = freePort();
  const h = new SocketHandler("127.0.0.1", port);
  const periods: number[] = [];
  for (let i = 0; i < 7; i++) {
    const before = Date.now() / 1000;
    await h.createSocket();
    equal(h.sock, null);
    periods.push(h.retryPeriod);
    ok(
      Math.abs(h.retryTime! - (before + h.retryPeriod)) < 1,
      "retryTime = now + retryPeriod",
    );
    // No attempt before retryTime:
    const kept = h.retryTime;
    await h.createSocket();
    equal(h.retryTime, kept);
    h.retryTime = 0; // in the past, but not None: the next failure backs off further
  }
  deepEqual(periods, [1, 2, 4, 8, 16, 30, 30]);
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  try {
    await h.createSocket();
    ok(h.sock !== null);
    equal(h.retryTime, null, "a success resets retryTime");
  } finally {
    await h.close();
    listener.close();
  }
});

Deno.test("emit never throws and leaves no unhandled rejection; bad records are counted", async () => {
  const rejections: unknown[] = [];
  const onRejection = (e: PromiseRejectionEvent) => {
    rejections.push(e.reason);
    e.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  const errors: unknown[] = [];
  const rx = await PyReceiver.start("tcp");
  const h = new SocketHandler("127.0.0.1", rx.port, {
    onError: (e) => errors.push(e),
  });
  try {
    h.handle({ msg: "%d items", args: ["not a number"] }); // a format error
    h.handle({
      msg: "getter",
      extra: {
        get boom() {
          throw new Error("getter failed");
        },
      },
    });
    h.handle({ msg: "fine" });
    await h.flush();
    await rx.waitFor(1);
    equal(h.stats.failed, 2);
    equal(h.stats.sent, 1);
    equal(errors.length, 2);
    equal(rx.records[0].msg, "fine");
  } finally {
    await h.close();
    await rx.stop();
    globalThis.removeEventListener("unhandledrejection", onRejection);
  }
  deepEqual(rejections, []);
});

Deno.test("closeOnError: silent by default; reported when false", async () => {
  const port = freePort();
  const quiet: unknown[] = [];
  const loud: unknown[] = [];
  const a = new SocketHandler("127.0.0.1", port, {
    retryStart: 10,
    closeTimeout: 200,
    onError: (e) => quiet.push(e),
  });
  const b = new SocketHandler("127.0.0.1", port, {
    retryStart: 10,
    closeTimeout: 200,
    closeOnError: false,
    onError: (e) => loud.push(e),
  });
  a.handle({ msg: "x" });
  b.handle({ msg: "x" });
  // The first attempt (the I/O worker starts first) may take a while here.
  for (let i = 0; i < 100 && loud.length === 0; i++) await sleep(50);
  await sleep(100);
  equal(quiet.length, 0);
  ok(loud.length >= 1);
  ok(loud[0] instanceof Deno.errors.ConnectionRefused);
  await Promise.all([a.close(), b.close()]);
  equal(a.stats.dropped, 1);
});

Deno.test("dropWhileDown: CPython's behaviour, records dropped after a failed attempt", async () => {
  const h = new SocketHandler("127.0.0.1", freePort(), {
    dropWhileDown: true,
    retryStart: 10,
    closeTimeout: 200,
  });
  h.handle({ msg: "first" }); // queued: no attempt has failed yet
  await sleep(200);
  ok(h.retryTime !== null);
  for (let i = 0; i < 10; i++) h.handle({ msg: "while down" });
  equal(h.stats.dropped, 10);
  equal(h.stats.queued, 1);
  await h.close();
});

Deno.test("TLS: the certificate is verified; a custom CA is accepted", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    // A CA and a leaf certificate for localhost signed by it.
    // Without openssl on PATH, spawning throws at once: the test skips.
    const openssl = async (...args: string[]) => {
      try {
        const o = await new Deno.Command("openssl", {
          args,
          cwd: dir,
          stdout: "null",
          stderr: "null",
        }).output();
        return o.success;
      } catch {
        return false;
      }
    };
    await Deno.writeTextFile(
      `${dir}/leaf.ext`,
      "subjectAltName=DNS:localhost\n",
    );
    const made = await openssl(
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=pysocklog test CA",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
    ) &&
      await openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr",
      ) &&
      await openssl(
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "leaf.ext",
        "-out",
        "cert.pem",
      );
    if (!made) {
      console.log(
        "SKIP TLS test: openssl is not available to make a certificate",
      );
      return;
    }
    const ca = await Deno.readTextFile(`${dir}/ca.pem`);
    const cert = await Deno.readTextFile(`${dir}/cert.pem`);
    const key = await Deno.readTextFile(`${dir}/key.pem`);
    const sink = new FrameCounter(
      Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key }),
    );
    try {
      await t.step("without the CA: refused", async () => {
        const errors: unknown[] = [];
        const h = new SocketHandler("localhost", sink.port, {
          tls: true,
          closeOnError: false,
          retryStart: 10,
          closeTimeout: 200,
          onError: (e) => errors.push(e),
        });
        h.handle({ msg: "secret" });
        await sleep(500);
        equal(h.stats.sent, 0);
        ok(errors.length >= 1, "a certificate error is reported");
        equal(
          errors.length,
          1,
          "one attempt, then the backoff (no reconnect loop)",
        );
        ok(h.retryTime !== null);
        await h.close();
      });
      await t.step("with the CA: delivered", async () => {
        const h = new SocketHandler("localhost", sink.port, {
          tls: { caCerts: [ca] },
        });
        for (let i = 0; i < 100; i++) h.handle(record(i));
        await h.flush();
        await h.close();
        for (let i = 0; i < 100 && sink.frames < 100; i++) await sleep(10);
        equal(sink.frames, 100);
      });
    } finally {
      sink.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function runScript(
  source: string,
  args: string[],
): Promise<{ ms: number; code: number; err: string }> {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, source);
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", file, ...args],
    stdout: "null",
    stderr: "piped",
  }).output();
  await Deno.remove(file);
  return {
    ms: performance.now() - t0,
    code: out.code,
    err: new TextDecoder().decode(out.stderr),
  };
}

const MOD = new URL("../mod.ts", import.meta.url).href;

Deno.test("process lifetime: a program that logs and returns delivers its records", async () => {
  const rx = await PyReceiver.start("tcp");
  try {
    const r = await runScript(
      `import { SocketHandler } from "${MOD}";
const h = new SocketHandler("127.0.0.1", Number(Deno.args[0]));
for (let i = 0; i < 1000; i++) h.handle({ name: "child", levelno: 20, msg: "n=" + i });
`,
      [String(rx.port)],
    );
    equal(r.code, 0, r.err);
    await rx.waitFor(1000, 5000);
    equal(rx.records.length, 1000);
    equal(rx.records[999].msg, "n=999");
  } finally {
    await rx.stop();
  }
});

Deno.test("process lifetime: receiver down, the program exits within exitTimeout", async () => {
  const r = await runScript(
    `import { SocketHandler } from "${MOD}";
const h = new SocketHandler("127.0.0.1", Number(Deno.args[0]), { exitTimeout: 1000 });
h.handle({ msg: "nobody listens" });
`,
    [String(freePort())],
  );
  equal(r.code, 0, r.err);
  ok(r.ms < 6000, `took ${r.ms} ms`);
});

Deno.test("process lifetime: an idle, connected handler does not keep the program alive", async () => {
  const rx = await PyReceiver.start("tcp");
  try {
    const r = await runScript(
      `import { SocketHandler } from "${MOD}";
const h = new SocketHandler("127.0.0.1", Number(Deno.args[0]));
h.handle({ msg: "one" });
await h.flush();
console.error("connected:", h.stats.connected);
`,
      [String(rx.port)],
    );
    equal(r.code, 0, r.err);
    ok(r.err.includes("connected: true"));
    ok(r.ms < 5000, `took ${r.ms} ms`);
    await rx.waitFor(1);
    equal(rx.records.length, 1);
  } finally {
    await rx.stop();
  }
});

Deno.test("handle(): level and filters apply to partial records and to made ones alike; stats count what passed", async () => {
  const rx = await PyReceiver.start("tcp");
  const h = new SocketHandler("127.0.0.1", rx.port, { level: "WARNING" });
  try {
    const partial = (seq: number, levelname: string) => ({
      name: "app",
      levelname,
      msg: "n=%d",
      args: [seq],
      seq,
    });
    // Without filters: partial records take the frame-only path.
    equal(h.handle(partial(0, "INFO")), false);
    equal(h.handle(partial(1, "WARNING")), true);
    equal(h.handle(makeLogRecord(partial(2, "ERROR"))), true);
    equal(h.handle(partial(3, "DEBUG")), false);
    // With a filter: it sees each whole record.
    const seen: string[] = [];
    h.addFilter((r) => {
      seen.push(`${r.levelname}:${r.seq}`);
      return (r.seq as number) % 2 === 0;
    });
    equal(h.handle(partial(4, "CRITICAL")), true);
    equal(h.handle(partial(5, "ERROR")), false);
    equal(h.handle(partial(6, "INFO")), false);
    await h.flush();
    await rx.waitFor(3);
    deepEqual(rx.records.map((r) => [r.seq, r.levelname, r.msg]), [
      [1, "WARNING", "n=1"],
      [2, "ERROR", "n=2"],
      [4, "CRITICAL", "n=4"],
    ]);
    deepEqual(seen, ["CRITICAL:4", "ERROR:5"]);
    const s = h.stats;
    equal(s.emitted, 3);
    equal(s.sent, 3);
    equal(s.failed + s.dropped, 0);
  } finally {
    await h.close();
    await rx.stop();
  }
});
