// The UDP receive worker (receiver/_udp_worker.js): the socket is drained
// by a thread that does nothing else, so a busy receiver thread loses
// nothing the worker could take, in order; without it the kernel drops.
import { deepEqual, equal, ok } from "node:assert/strict";
import { bindUdp, canUseUdpWorker } from "../receiver/_udp.ts";
import { pyScript, runPython } from "./_helpers.ts";

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

async function busyReceive(worker: boolean) {
  const seqs: number[] = [];
  const sock = await bindUdp(
    "127.0.0.1",
    0,
    (data) =>
      seqs.push(new DataView(data.buffer, data.byteOffset).getUint32(0)),
    undefined,
    worker,
  );
  equal(sock.worker, worker);
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
  await sock.close();
  return { seqs, kernelDrops, dropped };
}

Deno.test("the UDP worker's module graph holds no TypeScript", async () => {
  const worker = new URL("../receiver/_udp_worker.js", import.meta.url);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", worker.href],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string; mediaType?: string }[];
  };
  const local = info.modules.filter((m) => m.specifier.startsWith("file:"));
  deepEqual(
    local.filter((m) => m.mediaType !== "JavaScript").map((m) => m.specifier),
    [],
  );
  deepEqual(local.length, 1);
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
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["eval", ...flags, code],
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(10_000),
      }).output();
      const text = new TextDecoder().decode(out.stdout) +
        new TextDecoder().decode(out.stderr);
      ok(out.success && text.trim() === "end", `${flags} ${body}: ${text}`);
    }
  }
});
