// Audit of the sending side: what a report prints is bounded.
import { equal, ok } from "node:assert/strict";
import { SocketHandler } from "../mod.ts";
import { PyReceiver } from "./_receiver.ts";

/** What console.error printed while `f` ran. */
async function stderrOf(f: () => Promise<void> | void): Promise<string> {
  const saved = console.error;
  let text = "";
  console.error = (...a: unknown[]) => text += a.join(" ") + "\n";
  try {
    await f();
  } finally {
    console.error = saved;
  }
  return text;
}

Deno.test("reports: an error's own text is cut short, as a record's message is", async () => {
  const rx = await PyReceiver.start("tcp");
  const h = new SocketHandler("127.0.0.1", rx.port);
  try {
    const text = await stderrOf(async () => {
      const record: Record<string, unknown> = { msg: "getter" };
      Object.defineProperty(record, "boom", {
        get() {
          throw new Error("E".repeat(1_000_000));
        },
        enumerable: true,
      });
      h.handle(record);
      await h.flush();
    });
    ok(text.includes("--- Logging error ---"), text.slice(0, 200));
    ok(text.length < 5_000, `the report is ${text.length} characters`);
    equal(h.stats.failed, 1);
  } finally {
    await h.close();
    await rx.stop();
  }
});
