// Our UDP receiver for bench/receiver_compare.ts: listen({ transport: "udp" })
// with the receive path given, makeLogRecord on each record. Prints
// "PORT n"; on a line on stdin, prints JSON: records, dropped (ours),
// kernelDrops (the kernel's count for the socket), the path used.
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
const s = rx.stats;
console.log(JSON.stringify({
  records: s.records,
  dropped: s.dropped,
  kernelDrops: s.kernelDrops,
  sink,
}));
Deno.exit(0);
