// The LogTape sinks, driven by the real LogTape (npm:@logtape/logtape),
// delivering to CPython's cookbook receivers over TCP and UDP.
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { configure, getLogger, reset } from "@logtape/logtape";
import { getDatagramSink, getSocketSink } from "../logtape.ts";
import { PyReceiver } from "./_receiver.ts";

Deno.test("LogTape socket sink: category, levels, message, properties and errors as Python sees them", async () => {
  const rx = await PyReceiver.start("tcp");
  const sink = getSocketSink({ hostname: "127.0.0.1", port: rx.port });
  try {
    await configure({
      sinks: { python: sink },
      loggers: [
        { category: ["app"], sinks: ["python"], lowestLevel: "trace" },
        { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
      ],
    });
    const log = getLogger(["app", "db"]);
    log.trace("trace {n}", { n: 1 });
    log.debug("debug");
    log.info("Connected to {host} in {ms} ms", { host: "db1", ms: 12.5 });
    log.warning("slow: {q}", { q: { sql: "select 1", rows: [1, 2] } });
    log.error("failed", { error: new TypeError("bad row"), table: "users" });
    log.fatal("down");
    getLogger(["app"]).info`tagged ${42} template`;
    await sink.drain();
    await rx.waitFor(7);
    const r = rx.records;
    equal(r.length, 7);
    for (const rec of r.slice(0, 6)) equal(rec.name, "app.db");
    equal(r[6].name, "app");
    deepEqual(r.map((x) => [x.levelno, x.levelname]), [
      [5, "TRACE"],
      [10, "DEBUG"],
      [20, "INFO"],
      [30, "WARNING"],
      [40, "ERROR"],
      [50, "CRITICAL"],
      [20, "INFO"],
    ]);
    equal(r[0].msg, "trace 1");
    equal(r[0].n, 1);
    equal(r[2].msg, "Connected to db1 in 12.5 ms");
    equal(r[2].host, "db1");
    equal(r[2].ms, 12.5);
    equal(r[2]._types.ms, "float");
    deepEqual(r[3].q, { sql: "select 1", rows: [1, 2] });
    equal(r[3].msg, `slow: { sql: "select 1", rows: [ 1, 2 ] }`);
    match(r[4].exc_text as string, /^TypeError: bad row\n\s+at /);
    equal(r[4].table, "users");
    equal(r[4].error, undefined);
    equal(r[6].msg, "tagged 42 template");
    for (const rec of r) {
      equal(rec._types.created, "float");
      ok(Math.abs((rec.created as number) - Date.now() / 1000) < 60);
      equal(rec.args, null);
      equal(rec.exc_info, null);
    }
  } finally {
    await reset();
    await sink[Symbol.asyncDispose]();
    await rx.stop();
  }
  equal(rx.stderr, "");
});

Deno.test("LogTape socket sink: LogTape's dispose() flushes it; the handler's stats tell what happened", async () => {
  const rx = await PyReceiver.start("tcp");
  const sink = getSocketSink({ hostname: "127.0.0.1", port: rx.port });
  try {
    await configure({
      sinks: { python: sink },
      loggers: [
        { category: "svc", sinks: ["python"], lowestLevel: "info" },
        { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
      ],
    });
    const log = getLogger("svc");
    for (let i = 0; i < 500; i++) log.info("n={i}", { i });
    log.debug("filtered out by LogTape");
    await reset(); // disposes the sinks: everything queued is written
    await rx.waitFor(500);
    equal(rx.records.length, 500);
    equal(rx.records[499].msg, "n=499");
    equal(sink.handler.stats.sent, 500);
    equal(sink.handler.stats.connected, false);
  } finally {
    await rx.stop();
  }
});

Deno.test("LogTape datagram sink: records reach CPython's UDP receiver", async () => {
  const rx = await PyReceiver.start("udp");
  const sink = getDatagramSink({ hostname: "127.0.0.1", port: rx.port });
  try {
    await configure({
      sinks: { udp: sink },
      loggers: [
        { category: "edge", sinks: ["udp"], lowestLevel: "debug" },
        { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
      ],
    });
    const log = getLogger(["edge", "cache"]);
    for (let i = 0; i < 50; i++) log.warning("miss {key}", { key: `k${i}` });
    await sink.drain();
    await rx.waitFor(50, 5000);
    equal(rx.records.length, 50);
    const keys = new Set(rx.records.map((r) => r.key));
    equal(keys.size, 50);
    equal(rx.records[0].name, "edge.cache");
    equal(rx.records[0].levelname, "WARNING");
    match(rx.records[0].msg as string, /^miss k\d+$/);
  } finally {
    await reset();
    await sink[Symbol.asyncDispose]();
    await rx.stop();
  }
});

Deno.test("LogTape socket sink: properties named like standard keys, message or asctime are kept under name_ (never replace one, never lost)", async () => {
  const rx = await PyReceiver.start("tcp");
  const sink = getSocketSink({ hostname: "127.0.0.1", port: rx.port });
  try {
    sink({
      category: ["app"],
      level: "info",
      message: ["hello"],
      timestamp: Date.now(),
      properties: {
        name: "n",
        message: "m",
        asctime: "t",
        levelno: 99,
        name_: "taken",
        plain: 1,
      },
    });
    await sink.drain();
    await rx.waitFor(1);
    const [r] = rx.records;
    equal(r.name, "app");
    equal(r.msg, "hello");
    equal(r._message, "hello");
    equal(r.levelno, 20);
    equal(r.name_, "taken");
    equal(r.name__, "n");
    equal(r.message_, "m");
    equal(r.asctime_, "t");
    equal(r.levelno_, 99);
    equal(r.plain, 1);
  } finally {
    await sink[Symbol.asyncDispose]();
    await rx.stop();
  }
  equal(rx.stderr, "");
});
