// Audit of the sending side, @std/log: the handlers never throw into the
// log call (a formatter or an argument that throws), and count what they
// could not convert. @std/log comes from JSR; where it does not resolve
// (set PYSOCKLOG_IMPORT_MAP), this file registers nothing. The specifiers
// are not literals, so type-checking this file never needs @std/log.
import { equal, match } from "node:assert/strict";
import { PyReceiver } from "./_receiver.ts";
import { importStdLog } from "./_std_log_import.ts";

interface Stats {
  emitted: number;
  sent: number;
  failed: number;
}
interface NetHandler {
  handler: { stats: Stats };
  flush(): Promise<void>;
  close(): Promise<void>;
}
interface StdLog {
  setup(config: unknown): void;
  getLogger(name?: string): { info(msg: string, ...args: unknown[]): void };
}

const std = await importStdLog<
  StdLog,
  { SocketHandler: new (level: string, options: unknown) => NetHandler }
>("std-log audit tests");

if (std !== undefined) {
  const log = std.stdLog;
  const { SocketHandler } = std.adapter;
  Deno.test("std-log SocketHandler: a formatter or an argument that throws never throws into the log call; counted failed, reported", async () => {
    const rx = await PyReceiver.start("tcp");
    const errors: unknown[] = [];
    const net = new SocketHandler("INFO", {
      hostname: "127.0.0.1",
      port: rx.port,
      formatter: (r: { msg: string }) => {
        if (r.msg === "boom") throw new Error("formatter failed");
        return r.msg;
      },
      onError: (e: unknown) => errors.push(e),
    });
    try {
      log.setup({
        handlers: { net },
        loggers: { audit: { level: "INFO", handlers: ["net"] } },
      });
      const logger = log.getLogger("audit");
      const bad = {};
      Object.defineProperty(bad, "x", {
        get() {
          throw new Error("getter failed");
        },
        enumerable: true,
      });
      logger.info("boom"); // threw "formatter failed" at the caller
      logger.info("bad arg", bad); // threw "getter failed" at the caller
      logger.info("fine");
      await net.flush();
      const s = net.handler.stats;
      equal(s.failed, 2);
      equal(s.sent, 1);
      equal(s.emitted, s.sent + s.failed);
      equal(errors.length, 2);
      match(String(errors[0]), /formatter failed/);
      match(String(errors[1]), /getter failed/);
      await rx.waitFor(1);
      equal(rx.records.length, 1);
      equal(rx.records[0].msg, "fine");
    } finally {
      log.setup({ handlers: {}, loggers: {} });
      await net.close();
      await rx.stop();
    }
  });

  Deno.test("std-log SocketHandler: log.setup() run again with the same handler (std/log destroys, then sets up its handlers) keeps sending", async () => {
    const rx = await PyReceiver.start("tcp");
    const net = new SocketHandler("INFO", {
      hostname: "127.0.0.1",
      port: rx.port,
    });
    try {
      log.setup({
        handlers: { net },
        loggers: { again: { level: "INFO", handlers: ["net"] } },
      });
      log.getLogger("again").info("one");
      await net.flush();
      // Reconfigured, e.g. to change a level: std/log calls destroy() on
      // the handlers it had and setup() on the ones given.
      log.setup({
        handlers: { net },
        loggers: { again: { level: "INFO", handlers: ["net"] } },
      });
      log.getLogger("again").info("two");
      await net.flush();
      await rx.waitFor(2, 5_000);
      equal(rx.records.map((r) => r.msg).join(","), "one,two");
    } finally {
      log.setup({ handlers: {}, loggers: {} });
      await net.close();
      await rx.stop();
    }
  });
}
