// Cases for the ./std-log entry, loaded by std_log_test.ts only where
// @std/log resolves. Real @std/log (0.224.14), real CPython receivers.
import { deepEqual, equal, match, ok } from "node:assert/strict";
import * as log from "@std/log";
import { DatagramHandler, SocketHandler } from "../std_log.ts";
import { PyReceiver } from "./_receiver.ts";

Deno.test("std-log SocketHandler: log.setup takes it; Python sees name, level, message, args and errors", async () => {
  const rx = await PyReceiver.start("tcp");
  const net = new SocketHandler("INFO", {
    hostname: "127.0.0.1",
    port: rx.port,
  });
  try {
    log.setup({
      handlers: { net },
      loggers: {
        default: { level: "DEBUG", handlers: ["net"] },
        db: { level: "DEBUG", handlers: ["net"] },
      },
    });
    log.debug("below the handler's level");
    log.info("ready");
    log.warn("disk almost full", { free: "2%" });
    log.getLogger("db").error("query failed", new RangeError("timeout"), 3);
    log.critical({ code: 7 });
    await net.flush();
    await rx.waitFor(4);
    const r = rx.records;
    equal(r.length, 4, "the DEBUG record is filtered by the handler's level");
    equal(r[0].name, "default");
    equal(r[0].msg, "ready", "no level prefix");
    equal(r[0].levelname, "INFO");
    equal(r[1].levelname, "WARNING");
    equal(r[1].levelno, 30);
    equal(r[1].msg, "disk almost full");
    deepEqual(r[1].args_, [{ free: "2%" }]);
    equal(r[2].name, "db");
    equal(r[2].levelname, "ERROR");
    match(r[2].exc_text as string, /^RangeError: timeout\n\s+at /);
    equal((r[2].args_ as unknown[])[1], 3);
    equal(r[3].levelname, "CRITICAL");
    equal(r[3].msg, JSON.stringify({ code: 7 }));
    for (const rec of r) {
      equal(rec._types.created, "float");
      ok(Math.abs((rec.created as number) - Date.now() / 1000) < 60);
    }
  } finally {
    await net.close();
    await rx.stop();
  }
});

Deno.test("std-log SocketHandler: a formatter's output becomes msg; destroy() flushes and closes", async () => {
  const rx = await PyReceiver.start("tcp");
  const net = new SocketHandler("DEBUG", {
    hostname: "127.0.0.1",
    port: rx.port,
    formatter: (r) => `[${r.loggerName}] ${r.msg}`,
  });
  log.setup({
    handlers: { net },
    loggers: { app: { level: "DEBUG", handlers: ["net"] } },
  });
  const app = log.getLogger("app");
  for (let i = 0; i < 100; i++) app.info(`n=${i}`);
  // Replacing the setup destroys the old handlers.
  log.setup({ handlers: {}, loggers: {} });
  await rx.waitFor(100);
  await rx.stop();
  equal(rx.records.length, 100);
  equal(rx.records[99].msg, "[app] n=99");
  equal(net.handler.stats.sent, 100);
});

Deno.test("std-log DatagramHandler: records reach CPython's UDP receiver", async () => {
  const rx = await PyReceiver.start("udp");
  const udp = new DatagramHandler("DEBUG", {
    hostname: "127.0.0.1",
    port: rx.port,
  });
  try {
    log.setup({
      handlers: { udp },
      loggers: { edge: { level: "DEBUG", handlers: ["udp"] } },
    });
    log.getLogger("edge").debug("tick");
    await udp.flush();
    await rx.waitFor(1, 5000);
    equal(rx.records[0].name, "edge");
    equal(rx.records[0].levelname, "DEBUG");
    equal(rx.records[0].msg, "tick");
  } finally {
    await udp.close();
    await rx.stop();
  }
});
