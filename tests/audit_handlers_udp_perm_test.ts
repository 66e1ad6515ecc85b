// Audit of the sending side: a DatagramHandler in a program that may not
// bind a UDP socket (no --allow-net, or --allow-net for the receiver only).
import { equal, match, ok } from "node:assert/strict";
import { runScript } from "./_helpers.ts";
import { PyReceiver } from "./_receiver.ts";

const MOD = new URL("../mod.ts", import.meta.url).href;
const KILL_MS = 20_000;

const runChild = (source: string, args: string[], flags: string[]) =>
  runScript(source, { args, flags, killMs: KILL_MS });

Deno.test("UDP without net access for its socket's bind address: the program goes on; NotCapable reported once, records counted", async () => {
  const rx = await PyReceiver.start("udp");
  try {
    // No --allow-net at all, and --allow-net for the receiver only (which
    // does not cover node:dgram's bind to 0.0.0.0:0): both crashed the
    // program with an uncaught NotCapable from inside node:dgram.
    for (const flags of [[], [`--allow-net=127.0.0.1:${rx.port}`]]) {
      const r = await runChild(
        `import { DatagramHandler } from "${MOD}";
const h = new DatagramHandler("127.0.0.1", Number(Deno.args[0]));
for (let i = 0; i < 3; i++) h.handle({ msg: "a" });
await new Promise((r) => setTimeout(r, 200));
h.handle({ msg: "b" });
await h.close();
console.log(JSON.stringify(h.stats));
`,
        [String(rx.port)],
        flags,
      );
      const what = `flags ${JSON.stringify(flags)}: ${r.err}`;
      equal(r.killed, false, what);
      equal(r.code, 0, what);
      equal(r.err.split("--- Logging error ---").length - 1, 1, what);
      match(r.err, /NotCapable: .*0\.0\.0\.0:0.*--allow-net/, what);
      ok(!r.err.includes("    at "), `no stack for a permission: ${what}`);
      const s = JSON.parse(r.out);
      equal(s.emitted, 4, what);
      equal(s.dropped, 4, what);
    }
    equal(rx.records.length, 0);
  } finally {
    await rx.stop();
  }
});
