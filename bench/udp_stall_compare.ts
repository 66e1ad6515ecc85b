// The UDP receiver when the receiving program's thread is busy part of the
// time (GC pauses, long turns of the host program): CPython DatagramHandler
// frames at 50,000/s for 2 s (bench/_receiver/udp_sender.py) into
// listen({ transport: "udp" }) with makeLogRecord on each record, while the
// thread spins STALL_MS of each STALL_EVERY_MS. Prints received % and the
// counted losses for each receive path. Run it in two trees side by side to
// compare them (it uses only the public API).
//
// usage: deno run -A --unstable-net bench/udp_stall_compare.ts [--runs N]
import { parseArgs } from "node:util";
import { makeLogRecord } from "../mod.ts";
import { listen, type UdpPath } from "../receiver.ts";

const RATE = 50_000;
const SECONDS = 2;
const STALL_MS = 20;
const STALL_EVERY_MS = 100;

const { values } = parseArgs({
  args: Deno.args,
  options: { runs: { type: "string", default: "3" } },
});
const runs = Number(values.runs);
const sender = new URL("./_receiver/udp_sender.py", import.meta.url).pathname;

async function once(udpPath: UdpPath) {
  const rx = await listen({ transport: "udp", port: 0, udpPath });
  let sink = 0;
  const consuming = (async () => {
    for await (const r of rx) sink += makeLogRecord(r).lineno;
  })();
  const stall = setInterval(() => {
    const end = performance.now() + STALL_MS;
    while (performance.now() < end) {
      // the host program's long turn
    }
  }, STALL_EVERY_MS);
  const out = await new Deno.Command("python3", {
    args: [
      sender,
      String((rx.addr as Deno.NetAddr).port),
      String(RATE),
      String(SECONDS),
    ],
    stdout: "piped",
  }).output();
  clearInterval(stall);
  const sent = Number(new TextDecoder().decode(out.stdout));
  await new Promise((r) => setTimeout(r, 500));
  const s = rx.stats;
  await rx.close();
  await consuming;
  return {
    sent,
    received: s.records,
    lost: s.dropped + (s.kernelDrops ?? 0),
    sink,
  };
}

for (const path of ["listenDatagram", "node:dgram"] as UdpPath[]) {
  const pct: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await once(path);
    pct.push(100 * r.received / r.sent);
    console.log(
      `${path}: sent ${r.sent} received ${r.received} (${
        (100 * r.received / r.sent).toFixed(1)
      }%) counted lost ${r.lost}`,
    );
  }
  pct.sort((a, b) => a - b);
  console.log(`${path}: median ${pct[Math.floor(pct.length / 2)].toFixed(1)}%`);
}
