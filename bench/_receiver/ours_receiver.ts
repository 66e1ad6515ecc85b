// Our receiver for bench/receiver_compare.ts, default options: listen(),
// and makeLogRecord on each record unless "plain" (as the cookbook receiver
// makes a LogRecord; listen() already yields the record's dict). Prints
// "PORT n"; after TOTAL records, the seconds from the first record to the
// last and the CPU seconds used meanwhile, and exits.
//
// usage: ours_receiver.ts TOTAL [plain]
import { makeLogRecord } from "../../mod.ts";
import { listen } from "../../receiver.ts";

const total = Number(Deno.args[0]);
const plain = Deno.args[1] === "plain";
const rx = await listen({ port: 0 });
console.log(`PORT ${(rx.addr as Deno.NetAddr).port}`);
/** CPU seconds this process used (user + system, all threads). */
function cpu(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}
let n = 0;
let t0 = 0;
let cpu0 = 0;
let sink = 0;
for await (const r of rx) {
  if (n === 0) {
    t0 = performance.now();
    cpu0 = cpu();
  }
  sink += plain ? r.lineno as number : makeLogRecord(r).lineno;
  if (++n === total) break;
}
console.log(
  `${((performance.now() - t0) / 1000).toFixed(6)} ${
    (cpu() - cpu0).toFixed(2)
  }`,
);
if (sink < 0) console.log(sink);
Deno.exit(0);
