// Our UDP receiver for bench/receiver_compare.ts: listen({ transport: "udp" })
// with the receive path given, makeLogRecord on each record. Prints
// "PORT n"; on a line on stdin, once the counts stand still, prints JSON:
// records, dropped (ours), kernelDrops (the kernel's count for the socket).
//
// usage: ours_udp.ts listenDatagram|node:dgram
import { makeLogRecord } from "../../mod.ts";
import { listen, type UdpPath } from "../../receiver.ts";

const rx = await listen({
  transport: "udp",
  port: 0,
  udpPath: Deno.args[0] as UdpPath,
});
console.log(`PORT ${(rx.addr as Deno.NetAddr).port}`);
let sink = 0;
(async () => {
  for await (const r of rx) sink += makeLogRecord(r).lineno;
})();
const line = Deno.stdin.readable.pipeThrough(new TextDecoderStream())
  .getReader();
await line.read();
// What still waits (the socket's buffer, the worker's batches) is neither
// received nor lost yet: report once the counts stand still.
const QUIET_MS = 200;
const MAX_WAIT_MS = 3_000;
const counted = () =>
  rx.stats.records + rx.stats.dropped + (rx.stats.kernelDrops ?? 0);
for (let last = -1, waited = 0; waited < MAX_WAIT_MS; waited += QUIET_MS) {
  const now = counted();
  if (now === last) break;
  last = now;
  await new Promise((r) => setTimeout(r, QUIET_MS));
}
const s = rx.stats;
console.log(JSON.stringify({
  records: s.records,
  dropped: s.dropped,
  kernelDrops: s.kernelDrops,
  sink,
}));
Deno.exit(0);
