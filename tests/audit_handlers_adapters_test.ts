// Audit of the sending side: the LogTape sink and the @std/log handlers
// never throw into the log call, and count what they could not convert.
import { equal, match } from "node:assert/strict";
import { getSocketSink } from "../logtape.ts";
import { PyReceiver } from "./_receiver.ts";

Deno.test("LogTape sink: a record that cannot be converted is counted in stats.failed and reported", async () => {
  const rx = await PyReceiver.start("tcp");
  const errors: unknown[] = [];
  const sink = getSocketSink({
    hostname: "127.0.0.1",
    port: rx.port,
    formatValue: () => {
      throw new Error("formatValue failed");
    },
    onError: (e) => errors.push(e),
  });
  try {
    sink({
      category: ["app"],
      level: "info",
      message: ["value ", 42, ""],
      timestamp: Date.now(),
      properties: {},
    });
    sink({
      category: ["app"],
      level: "info",
      message: ["plain"],
      timestamp: Date.now(),
      properties: {},
    });
    await sink.drain();
    const s = sink.handler.stats;
    equal(s.failed, 1);
    equal(s.sent, 1);
    equal(s.emitted, s.sent + s.failed);
    equal(errors.length, 1);
    match(String(errors[0]), /formatValue failed/);
  } finally {
    await sink[Symbol.asyncDispose]();
    await rx.stop();
  }
});
