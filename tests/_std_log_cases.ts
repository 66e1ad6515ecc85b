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
    equal(r[1].free, "2%", "a plain object spreads into extras");
    equal(r[1].args_, undefined, "and is not kept in args_ too");
    equal(r[2].name, "db");
    equal(r[2].levelname, "ERROR");
    match(r[2].exc_text as string, /^RangeError: timeout\n\s+at /);
    deepEqual(r[2].args_, [3], "the Error is in exc_text only");
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

Deno.test("std-log SocketHandler: object args are Python's extra= keys; standard keys are never replaced; an Error once; the rest in args_", async () => {
  const rx = await PyReceiver.start("tcp");
  const net = new SocketHandler("INFO", {
    hostname: "127.0.0.1",
    port: rx.port,
  });
  try {
    log.setup({
      handlers: { net },
      loggers: { app: { level: "INFO", handlers: ["net"] } },
    });
    const app = log.getLogger("app");
    const first = new TypeError("first");
    app.info(
      "reserved",
      { name: "x", msg: "y", message: "m", asctime: "t", levelno: 99 },
      { user: "ann", n: 1 },
      first,
      new Error("second"),
      "text",
      [1, 2],
      { user: "bob" },
    );
    app.info("no args");
    app.info("proto", JSON.parse('{"__proto__": {"polluted": 1}, "k": 2}'));
    app.info("class instance", new Map([["a", 1]]), new Date(0));
    await net.flush();
    await rx.waitFor(4);
    const [r, bare, proto, inst] = rx.records;
    equal(rx.records.length, 4);
    equal(r.name, "app");
    equal(r.msg, "reserved");
    equal(r._message, "reserved");
    equal(r.levelno, 20);
    equal(r.name_, "x");
    equal(r.msg_, "y");
    equal(r.message_, "m");
    equal(r.asctime_, "t");
    equal(r.levelno_, 99);
    equal(r.user, "bob", "a later object wins a key, as spreading does");
    equal(r.n, 1);
    match(r.exc_text as string, /^TypeError: first\n\s+at /);
    const rest = r.args_ as unknown[];
    equal(rest.length, 3, "the second Error, the string and the list");
    match(rest[0] as string, /^Error: second/);
    deepEqual(rest.slice(1), ["text", [1, 2]]);
    equal(bare.args_, undefined);
    equal(bare.exc_text, null);
    deepEqual(proto.__proto__, { polluted: 1 });
    equal(proto.k, 2);
    equal(proto.polluted, undefined);
    equal((inst.args_ as unknown[]).length, 2, "only plain objects spread");
  } finally {
    await net.close();
    await rx.stop();
  }
  equal(rx.stderr, "");
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
