// Audit of the sending side: reports a program sees before it ends. Errors
// of one kind past the first are rate-limited into the next report of that
// kind; a program that closes before any next report must still be told.
import { match, ok } from "node:assert/strict";
import { SocketHandler } from "../mod.ts";
import { PyReceiver } from "./_receiver.ts";

const MOD = new URL("../mod.ts", import.meta.url).href;

Deno.test("reports: errors rate-limited away are counted in one line at close(), and at exit", async () => {
  const rx = await PyReceiver.start("tcp");
  try {
    for (const end of ["await h.close();", "Deno.exit(0);"]) {
      const file = await Deno.makeTempFile({ suffix: ".ts" });
      await Deno.writeTextFile(
        file,
        `import { SocketHandler } from "${MOD}";
const h = new SocketHandler("127.0.0.1", Number(Deno.args[0]));
for (let i = 0; i < 3; i++) h.handle({ msg: "%d", args: ["not a number"] });
h.handle({ msg: "fine" });
await h.flush();
${end}
`,
      );
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-net", file, String(rx.port)],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
        signal: AbortSignal.timeout(20_000),
      }).output();
      await Deno.remove(file);
      const err = new TextDecoder().decode(out.stderr);
      ok(out.success, err);
      const blocks = err.split("--- Logging error ---").length - 1;
      ok(blocks === 2, `${end}: ${blocks} reports:\n${err}`);
      match(err, /2 more TypeError errors were not reported/, end);
    }
  } finally {
    await rx.stop();
  }
});

Deno.test("reports: a record whose msg cannot be turned into text still gets its report", async () => {
  const rx = await PyReceiver.start("tcp");
  const h = new SocketHandler("127.0.0.1", rx.port);
  const saved = console.error;
  let text = "";
  console.error = (...a: unknown[]) => text += a.join(" ") + "\n";
  try {
    h.handle({
      msg: {
        toString() {
          throw new Error("no text");
        },
      },
      args: [1, 2],
    });
    await h.flush();
  } finally {
    console.error = saved;
    await h.close();
    await rx.stop();
  }
  match(text, /--- Logging error ---/);
});
