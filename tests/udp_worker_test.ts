// The UDP receive worker (receiver/_udp_worker.js): the socket is drained
// by a thread that does nothing else, so a busy receiver thread loses
// nothing the worker could take, in order; without it the kernel drops.
import { deepEqual, equal, ok } from "node:assert/strict";
import { bindUdp, canTuneUdp, canUseUdpWorker } from "../receiver/_udp.ts";
import { plainJsGraph, pyScript, runPython } from "./_helpers.ts";

/** 600-byte datagrams a paced sender sends while the receiver's thread spins. */
const SENT = 3_000;
/** 1.8 MB in 0.3 s: 9 times the 208 KiB socket buffer. */
const RATE = 10_000;
/** The sender starts this long after it is spawned (python3 starts in ~30 ms). */
const SENDER_DELAY_S = 0.2;
/** The receiver's thread is busy this long: the whole send. */
const SPIN_MS = 800;

async function untilQuiet(count: () => number, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  let last = -1;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    if (count() === last) return;
    last = count();
  }
}

/** A child deno's exit, its stdout, and stdout + stderr (killed after 10 s). */
async function runDeno(
  args: string[],
): Promise<{ success: boolean; stdout: string; text: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(10_000),
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  return {
    success: out.success,
    stdout,
    text: stdout + new TextDecoder().decode(out.stderr),
  };
}

/** The receive buffer asked for through FFI (receiver/_udp.ts). */
const RECV_BUFFER_BYTES = 4 * 1024 * 1024;

/** CAP_NET_ADMIN: the buffer may pass net.core.rmem_max (SO_RCVBUFFORCE). */
const CAP_NET_ADMIN = 12;

/** Linux grants what is asked (CAP_NET_ADMIN) or min(asked,
 * net.core.rmem_max), doubled. */
function grantedBuffer(): number {
  const caps = /CapEff:\s*([0-9a-f]+)/.exec(
    Deno.readTextFileSync("/proc/self/status"),
  )![1];
  const max = (BigInt("0x" + caps) >> BigInt(CAP_NET_ADMIN)) & 1n
    ? Infinity
    : Number(Deno.readTextFileSync("/proc/sys/net/core/rmem_max"));
  return 2 * Math.min(RECV_BUFFER_BYTES, max);
}

/** Receives what udp_paced.py sends while this thread spins; `tune`: the
 * receive buffer raised through FFI (else the kernel's default). */
async function busyReceive(worker: boolean, tune = false) {
  const seqs: number[] = [];
  const sock = await bindUdp(
    "127.0.0.1",
    0,
    (data) =>
      seqs.push(new DataView(data.buffer, data.byteOffset).getUint32(0)),
    undefined,
    worker,
    tune,
  );
  equal(sock.worker, worker);
  equal(sock.recvBuffer === null, !tune);
  const sender = runPython([
    pyScript("udp_paced.py"),
    String(sock.addr.port),
    String(SENT),
    String(RATE),
    String(SENDER_DELAY_S),
  ]);
  const end = Date.now() + SPIN_MS;
  while (Date.now() < end) {
    // the receiver's thread is busy (a GC pause, a long turn)
  }
  equal(Number(await sender), SENT);
  await untilQuiet(() => seqs.length);
  await new Promise((r) => setTimeout(r, 150)); // drops are read every 100 ms
  const kernelDrops = sock.kernelDrops();
  const dropped = sock.dropped();
  const recvBuffer = sock.recvBuffer;
  await sock.close();
  return { seqs, kernelDrops, dropped, recvBuffer };
}

Deno.test("the UDP worker's module graph holds no TypeScript", async () => {
  const worker = new URL("../receiver/_udp_worker.js", import.meta.url);
  equal((await plainJsGraph(worker)).length, 1);
});

Deno.test("UDP worker: a busy receiver thread loses nothing, in order", async () => {
  ok(canUseUdpWorker());
  const { seqs, kernelDrops, dropped } = await busyReceive(true);
  equal(kernelDrops, 0);
  equal(dropped, 0);
  equal(seqs.length, SENT);
  deepEqual(seqs, Array.from({ length: SENT }, (_, i) => i));
});

Deno.test("UDP without a worker: the kernel drops while the thread is busy, and counts it", async () => {
  const { seqs, kernelDrops, dropped } = await busyReceive(false);
  ok(kernelDrops !== null && kernelDrops > 0, `kernel drops ${kernelDrops}`);
  equal(seqs.length + kernelDrops + dropped, SENT);
});

Deno.test("UDP worker: an idle receiver does not keep the program alive; close() ends the worker", async () => {
  const receiver = new URL("../receiver.ts", import.meta.url).href;
  for (const flags of [["--unstable-net"], []]) {
    for (
      const body of [
        // never closed, nobody iterating
        `await listen({ transport: "udp", port: 0 });`,
        // a consumer that waits, then close()
        `const rx = await listen({ transport: "udp", port: 0 });
         const done = (async () => { for await (const _ of rx); })();
         await rx.close(); await done;`,
      ]
    ) {
      const code = `import { listen } from "${receiver}";\n${body}\n` +
        `console.log("end");`;
      const out = await runDeno(["eval", ...flags, code]);
      ok(
        out.success && out.text.trim() === "end",
        `${flags} ${body}: ${out.text}`,
      );
    }
  }
});

Deno.test("UDP: without --allow-read the receiver's thread receives; a failed bind is refused with its error", async () => {
  const receiver = new URL("../receiver.ts", import.meta.url).href;
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      script,
      `import { listen } from "${receiver}";
       const rx = await listen({ transport: "udp", port: 0 });
       const port = (rx.addr as Deno.NetAddr).port;
       let name = "none";
       if (Deno.args[0] === "twice") try { await listen({ transport: "udp", port }); } catch (e) { name = (e as Error).name; }
       const got = (async () => { for await (const r of rx) return r.msg; })();
       const { createSocket } = await import("node:dgram");
       const tx = createSocket("udp4");
       tx.send(new Uint8Array([0, 0, 0, 1, 0x2e]), port, "127.0.0.1", () => tx.close());
       await new Promise((r) => setTimeout(r, 300));
       console.log(name, rx.stats.dropped + rx.stats.records);
       void got;
       await rx.close();`,
    );
    // A failed bind on the receiver's thread (node:dgram) still holds the
    // program, as before the worker: not tested here.
    for (
      const [flags, expect] of [
        [["--allow-net"], /^none 1$/],
        [["-A"], /^Error 1$/],
        [["-A", "--unstable-net"], /^AddrInUse 1$/],
      ] as const
    ) {
      const out = await runDeno([
        "run",
        ...flags,
        script,
        flags.length > 1 || flags[0] === "-A" ? "twice" : "once",
      ]);
      ok(
        out.success && expect.test(out.stdout.trim()),
        `${flags}: ${out.text}`,
      );
    }
  } finally {
    await Deno.remove(script);
  }
});

Deno.test("UDP, listenDatagram on the receiver's thread (no --allow-read): an idle receiver does not keep the program alive; an iterated one does", async () => {
  const receiver = new URL("../receiver.ts", import.meta.url).href;
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      script,
      `import { listen } from "${receiver}";
       const rx = await listen({ transport: "udp", port: 0 });
       if (Deno.args[0] === "iterate") {
         // Only the receives in flight can keep the program here until
         // the datagram sent 300 ms later arrives.
         const port = (rx.addr as Deno.NetAddr).port;
         const { createSocket } = await import("node:dgram");
         const tx = createSocket("udp4");
         tx.unref();
         Deno.unrefTimer(setTimeout(() => tx.send(new Uint8Array([0, 0, 0, 4, 0x80, 2, 0x7d, 0x2e]), port, "127.0.0.1"), 300));
         for await (const _ of rx) break;
         await rx.close();
         console.log("got");
       }
       console.log("end");`,
    );
    // listenDatagram only: in Deno 2.9.6 node:dgram's unref() does not let
    // the program end (a bound, unref'd socket kept a 3-line script alive
    // past 5 s), so the node:dgram path on the receiver's thread still holds
    // an idle program; the worker path does not (the test above).
    for (const flags of [["--allow-net", "--unstable-net"]]) {
      for (const mode of ["idle", "iterate"]) {
        const { success, text } = await runDeno([
          "run",
          ...flags,
          script,
          mode,
        ]);
        ok(success && /end$/.test(text.trim()), `${flags} ${mode}: ${text}`);
        if (mode === "iterate") ok(text.includes("got"), `${flags}: ${text}`);
      }
    }
  } finally {
    await Deno.remove(script);
  }
});

Deno.test("UDP with --allow-ffi: the receive buffer is raised, so a busy thread without a worker loses nothing", async () => {
  ok(canTuneUdp());
  const { seqs, kernelDrops, dropped, recvBuffer } = await busyReceive(
    false,
    true,
  );
  equal(recvBuffer, grantedBuffer());
  // 3,000 datagrams of 600 bytes take about 3.5 MB of a socket's buffer.
  if (recvBuffer! >= 4 * 1024 * 1024) {
    equal(kernelDrops, 0);
    deepEqual(seqs, Array.from({ length: SENT }, (_, i) => i));
  } else {
    ok(kernelDrops! > 0, `kernel drops ${kernelDrops}`);
  }
  equal(seqs.length + kernelDrops! + dropped, SENT);
});

Deno.test("UDP: the kernel's drops are counted through FFI, or null where they cannot be read (never a wrong 0)", async () => {
  const udp = new URL("../receiver/_udp.ts", import.meta.url).href;
  const blast = pyScript("udp_blast.py");
  // The thread spins while 30,000 datagrams arrive: more than even a raised
  // buffer holds.
  const code = `import { bindUdp } from "${udp}";
    let got = 0;
    const sock = await bindUdp("127.0.0.1", 0, () => got++, undefined, false);
    const sender = new Deno.Command("python3", { args: ["${blast}", String(sock.addr.port), "30000"], stdout: "piped" }).output();
    const end = Date.now() + 1500;
    while (Date.now() < end) {}
    await sender;
    await new Promise((r) => setTimeout(r, 500));
    const k = sock.kernelDrops();
    console.log(JSON.stringify({ buffer: sock.recvBuffer, k, sum: got + (k ?? 0) }));
    await sock.close();`;
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(script, code);
    for (
      const [flags, counted, tuned] of [
        [["--allow-net", "--allow-run", "--allow-ffi"], true, true],
        // Deno 2 reads /proc/net only under --allow-all (glibc Linux grants
        // FFI then), whatever --allow-read says.
        [["--allow-net", "--allow-run", "--allow-read"], false, false],
        [["-A", "--deny-ffi"], false, false],
      ] as const
    ) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", ...flags, "--unstable-net", script],
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(20_000),
      }).output();
      const text = new TextDecoder().decode(out.stdout).trim();
      ok(out.success, `${flags}: ${new TextDecoder().decode(out.stderr)}`);
      const r = JSON.parse(text);
      if (counted) {
        ok(r.k > 0, `${flags}: ${text}`);
        equal(r.sum, 30_000, `${flags}: ${text}`);
      } else {
        equal(r.k, null, `${flags}: ${text}`);
      }
      equal(r.buffer !== null, tuned, `${flags}: ${text}`);
    }
  } finally {
    await Deno.remove(script);
  }
});

Deno.test("UDP worker: after the thread was busy, the consumer keeps up with the backlog of batches (none dropped at maxBufferedRecords)", async () => {
  // 20,000 datagrams arrive while the thread spins: the worker holds them
  // as ~30 batches of ~700. Each batch must reach the consumer before the
  // next is taken, or 2,000 waiting records are reached and the rest drop.
  const { listen } = await import("../receiver.ts");
  const rx = await listen({
    transport: "udp",
    port: 0,
    maxBufferedRecords: 2_000,
    onError: () => {},
  });
  let consumed = 0;
  const consuming = (async () => {
    for await (const _ of rx) consumed++;
  })();
  const port = (rx.addr as Deno.NetAddr).port;
  const sender = runPython([pyScript("udp_blast.py"), String(port), "20000"]);
  const end = Date.now() + 1_000;
  while (Date.now() < end) {
    // the receiver's thread is busy
  }
  equal(Number(await sender), 20_000);
  await untilQuiet(() => consumed);
  const s = rx.stats;
  await rx.close();
  await consuming;
  equal(s.dropped, 0, JSON.stringify(s));
  equal(s.records + (s.kernelDrops ?? 0), 20_000, JSON.stringify(s));
  equal(consumed, s.records);
});

Deno.test("UDP with --allow-ffi: close() first takes what waits in the raised receive buffer (none discarded uncounted)", async () => {
  for (const worker of [false, true]) {
    let got = 0;
    const sock = await bindUdp(
      "127.0.0.1",
      0,
      () => got++,
      undefined,
      worker,
      true,
    );
    const done = await Deno.makeTempFile();
    await Deno.remove(done);
    const sender = new Deno.Command("sh", {
      args: [
        "-c",
        `python3 "$0" "$1" "$2" "$3" "$4" > /dev/null && touch "$5"`,
        pyScript("udp_paced.py"),
        String(sock.addr.port),
        String(SENT),
        String(RATE),
        String(SENDER_DELAY_S),
        done,
      ],
    }).output();
    // The thread is busy until the sender is done (at most 10 s).
    const end = Date.now() + 10_000;
    for (let i = 0; Date.now() < end; i++) {
      if (
        i % 1000 === 0 && (() => {
          try {
            return Deno.statSync(done).isFile;
          } catch {
            return false;
          }
        })()
      ) break;
    }
    // Close at once, while the datagrams still wait in the buffer.
    const closing = sock.close();
    ok((await sender).success);
    await closing;
    await Deno.remove(done);
    equal(
      got + sock.kernelDrops()! + sock.dropped(),
      SENT,
      `worker ${worker}: ${got} received, ${sock.kernelDrops()} dropped by the kernel, ${sock.dropped()} by the worker`,
    );
  }
});
