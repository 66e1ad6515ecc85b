// A TCP or Unix receiver holds the program only while a consumer waits for
// a record, as the UDP one does: left after `break` without close() (or
// never iterated) it held the program for ever (found by the audit; the
// test timed out at 10 s on the old code).
import { ok } from "node:assert/strict";

Deno.test("TCP and Unix receivers: one left after break (a sender still connected) lets the program end; an iterating one waits for a record sent 300 ms later", async () => {
  const receiver = new URL("../receiver.ts", import.meta.url).href;
  const mod = new URL("../mod.ts", import.meta.url).href;
  const dir = await Deno.makeTempDir();
  const script = `${dir}/exit.ts`;
  await Deno.writeTextFile(
    script,
    `import { listen } from "${receiver}";
     import { SocketHandler } from "${mod}";
     const [transport, mode] = Deno.args;
     const rx = transport === "unix"
       ? await listen({ transport: "unix", path: "${dir}/rx.sock" })
       : await listen({ port: 0 });
     const h = transport === "unix"
       ? new SocketHandler("${dir}/rx.sock", null)
       : new SocketHandler("127.0.0.1", (rx.addr as Deno.NetAddr).port);
     if (mode === "late") {
       // Only the waiting consumer holds the program until this is sent.
       Deno.unrefTimer(setTimeout(() => h.handle({ msg: "late" }), 300));
     } else {
       h.handle({ msg: "now" });
     }
     for await (const r of rx) {
       console.log("got " + r.msg);
       break;
     }
     // Not closed: the receiver, and the handler's connection to it, stay.
     h.handle({ msg: "after" });
     console.log("end");`,
  );
  try {
    for (const transport of ["tcp", "unix"]) {
      for (const mode of ["now", "late"]) {
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", script, transport, mode],
          stdout: "piped",
          stderr: "piped",
          signal: AbortSignal.timeout(10_000),
        }).output();
        const text = new TextDecoder().decode(out.stdout) +
          new TextDecoder().decode(out.stderr);
        ok(out.success, `${transport} ${mode}: exit ${out.code}: ${text}`);
        ok(
          text.includes(`got ${mode}`) && /end\s*$/.test(text),
          `${transport} ${mode}: ${text}`,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
