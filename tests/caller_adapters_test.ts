// With `caller: true`, the LogTape sink and the @std/log handler report the
// user's log call (its file, line and function) to a real CPython receiver,
// past LogTape's, @std/log's and this package's own frames; from named
// functions, methods and top-level code, whether the user called the
// module's functions or a logger's methods. The @std/log part registers
// only where @std/log resolves (PYSOCKLOG_IMPORT_MAP where JSR is out of
// reach), as tests/std_log_test.ts does.
import { equal } from "node:assert/strict";
import { configure, getLogger, reset } from "@logtape/logtape";
import { getSocketSink } from "../logtape.ts";
import { PyReceiver } from "./_receiver.ts";
import { importStdLog } from "./_std_log_import.ts";

const HERE = new URL(import.meta.url).pathname;

/** The 1-based line of this file that holds `text`: where a log call is. */
function lineOf(text: string): number {
  const lines = Deno.readTextFileSync(new URL(import.meta.url)).split("\n");
  return lines.findIndex((l) => l.includes(text)) + 1;
}

function placeOrder(log: ReturnType<typeof getLogger>) {
  log.info("order {id} placed", { id: 7 });
}

class Inventory {
  reserve(log: ReturnType<typeof getLogger>) {
    log.warning("low stock");
  }
}

Deno.test("LogTape sink, caller: true: Python sees the user's file, line and function", async () => {
  const rx = await PyReceiver.start("tcp");
  const sink = getSocketSink({
    hostname: "127.0.0.1",
    port: rx.port,
    caller: true,
  });
  try {
    await configure({
      sinks: { python: sink },
      loggers: [
        { category: ["shop"], sinks: ["python"], lowestLevel: "info" },
        { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
      ],
    });
    const log = getLogger(["shop", "orders"]);
    for (let i = 0; i < 3; i++) {
      placeOrder(log);
      new Inventory().reserve(log);
      log.error("from the test itself");
    }
    await sink.drain();
    await rx.waitFor(9);
    const r = rx.records;
    equal(r.length, 9);
    for (let i = 0; i < 9; i += 3) {
      equal(r[i].pathname, HERE);
      equal(r[i].filename, "caller_adapters_test.ts");
      equal(r[i].module, "caller_adapters_test");
      equal(r[i].lineno, lineOf('log.info("order'));
      equal(r[i].funcName, "placeOrder");
      equal(r[i + 1].pathname, HERE);
      equal(r[i + 1].lineno, lineOf('log.warning("low stock")'));
      equal(r[i + 1].funcName, "reserve");
      equal(r[i + 2].pathname, HERE);
      equal(r[i + 2].lineno, lineOf('log.error("from the test'));
    }
  } finally {
    await reset();
    await sink[Symbol.asyncDispose]();
    await rx.stop();
  }
  equal(rx.stderr, "");
});

interface StdLogger {
  info(msg: string): unknown;
  warn(msg: string): unknown;
}
interface StdLog extends StdLogger {
  setup(config: unknown): void;
  getLogger(name?: string): StdLogger;
}
interface NetHandler {
  flush(): Promise<void>;
  close(): Promise<void>;
}

const std = await importStdLog<
  StdLog,
  { SocketHandler: new (level: string, options: unknown) => NetHandler }
>("std-log caller tests");

function chargeCard(log: StdLog) {
  log.info("charging"); // the module's function
}

class Billing {
  refund(logger: StdLogger) {
    logger.warn("refunding"); // a logger's method
  }
}

if (std !== undefined) {
  const log = std.stdLog;
  const { SocketHandler } = std.adapter;
  Deno.test("std-log SocketHandler, caller: true: Python sees the user's file, line and function", async () => {
    const rx = await PyReceiver.start("tcp");
    const net = new SocketHandler("INFO", {
      hostname: "127.0.0.1",
      port: rx.port,
      caller: true,
    });
    try {
      log.setup({
        handlers: { net },
        loggers: {
          default: { level: "DEBUG", handlers: ["net"] },
          billing: { level: "DEBUG", handlers: ["net"] },
        },
      });
      for (let i = 0; i < 3; i++) {
        chargeCard(log);
        new Billing().refund(log.getLogger("billing"));
        log.getLogger("billing").info("inline");
      }
      await net.flush();
      await rx.waitFor(9);
      const r = rx.records;
      equal(r.length, 9);
      for (let i = 0; i < 9; i += 3) {
        equal(r[i].pathname, HERE);
        equal(r[i].lineno, lineOf('log.info("charging")'));
        equal(r[i].funcName, "chargeCard");
        equal(r[i + 1].pathname, HERE);
        equal(r[i + 1].lineno, lineOf('logger.warn("refunding")'));
        equal(r[i + 1].funcName, "refund");
        equal(r[i + 2].pathname, HERE);
        equal(r[i + 2].lineno, lineOf('.info("inline")'));
      }
    } finally {
      log.setup({ handlers: {}, loggers: {} });
      await net.close();
      await rx.stop();
    }
    equal(rx.stderr, "");
  });
}
