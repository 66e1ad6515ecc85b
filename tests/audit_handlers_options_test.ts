// Audit of the sending side: options and records a JavaScript caller may
// pass get a clear error.
import { equal, match, ok, throws } from "node:assert/strict";
import { DatagramHandler, SocketHandler } from "../mod.ts";
import { PyReceiver } from "./_receiver.ts";

Deno.test("options a JS caller may pass: clear errors up front", () => {
  const bad: [string, () => unknown, ErrorConstructor, RegExp][] = [
    [
      "port as a string",
      () => new SocketHandler("127.0.0.1", "9020" as unknown as number),
      RangeError,
      /received "9020" \(a string\)/,
    ],
    [
      "retryStart as a string",
      () => new SocketHandler("h", 9020, { retryStart: "1" as never }),
      RangeError,
      /retryStart .*received "1" \(a string\)/,
    ],
    [
      "UDP port null",
      () => new DatagramHandler("127.0.0.1", null as unknown as number),
      RangeError,
      /port/,
    ],
    [
      "level NaN",
      () => new SocketHandler("h", 9020, { level: NaN }),
      RangeError,
      /level/,
    ],
    [
      "onError not a function",
      () => new SocketHandler("h", 9020, { onError: "stderr" as never }),
      TypeError,
      /onError must be a function/,
    ],
  ];
  for (const [what, make, type, message] of bad) {
    throws(make, (e: Error) => {
      ok(e instanceof type, `${what}: ${e}`);
      match(e.message, message, what);
      return true;
    });
  }
});

Deno.test("null options are no options; handle(null) is reported as what it is", async () => {
  const rx = await PyReceiver.start("tcp");
  const errors: unknown[] = [];
  const h = new SocketHandler("127.0.0.1", rx.port, null as never);
  const h2 = new SocketHandler("127.0.0.1", rx.port, {
    onError: (e) => errors.push(e),
  });
  try {
    equal(h.closeTimeout, 5_000);
    h2.handle(null as never);
    h2.handle("text" as never);
    equal(h2.stats.failed, 2);
    equal(errors.length, 2);
    for (const e of errors) {
      ok(e instanceof TypeError, String(e));
      match(String(e), /a record must be an object/);
    }
  } finally {
    await h.close();
    await h2.close();
    await rx.stop();
  }
});

Deno.test("stats: a record that fails counts the same with filters as without (emitted = sent + dropped + failed)", async () => {
  const rx = await PyReceiver.start("tcp");
  const bad = () => {
    const record: Record<string, unknown> = { msg: "getter" };
    Object.defineProperty(record, "boom", {
      get() {
        throw new Error("getter failed");
      },
      enumerable: true,
    });
    return record;
  };
  const plain = new SocketHandler("127.0.0.1", rx.port, {
    onError: () => {},
  });
  const filtered = new SocketHandler("127.0.0.1", rx.port, {
    filters: [() => true],
    onError: () => {},
  });
  try {
    for (const h of [plain, filtered]) {
      h.handle(bad());
      h.handle({ msg: "fine" });
      await h.flush();
    }
    for (const h of [plain, filtered]) {
      const s = h.stats;
      equal(s.failed, 1);
      equal(s.emitted, s.sent + s.dropped + s.failed, JSON.stringify(s));
    }
  } finally {
    await plain.close();
    await filtered.close();
    await rx.stop();
  }
});

Deno.test("a Unix socket path too long for the OS is refused up front", () => {
  throws(
    () => new SocketHandler("/tmp/" + "x".repeat(200), null),
    (e: Error) => {
      ok(e instanceof RangeError, String(e));
      match(e.message, /Unix socket path is 205 bytes/);
      return true;
    },
  );
  // The longest that fits is taken.
  const h = new SocketHandler("/tmp/" + "x".repeat(102), null, {
    onError: () => {},
    closeTimeout: 0,
  });
  return h.close();
});

Deno.test("TLS options of the wrong type are refused up front, not at each attempt", () => {
  const bad: [string, unknown][] = [
    ["tls as a string", "yes"],
    ["caCerts as one string", { caCerts: "-----BEGIN CERTIFICATE-----" }],
    ["caCerts holding a number", { caCerts: [1] }],
    ["hostname as a number", { hostname: 1 }],
  ];
  for (const [what, tls] of bad) {
    throws(
      () => new SocketHandler("127.0.0.1", 9020, { tls: tls as never }),
      (e: Error) => {
        ok(e instanceof TypeError, `${what}: ${e}`);
        match(e.message, /^tls/, what);
        return true;
      },
    );
  }
});

Deno.test('boolean options and filters of the wrong type are refused up front ("false" from an env var is not false)', () => {
  const bad: [string, () => unknown, RegExp][] = [
    [
      "dropNotices",
      () => new SocketHandler("h", 9020, { dropNotices: "false" as never }),
      /^dropNotices must be a boolean: received "false" \(a string\)/,
    ],
    [
      "closeOnError",
      () => new SocketHandler("h", 9020, { closeOnError: "false" as never }),
      /^closeOnError must be a boolean/,
    ],
    [
      "dropWhileDown",
      () => new SocketHandler("h", 9020, { dropWhileDown: 1 as never }),
      /^dropWhileDown must be a boolean/,
    ],
    [
      "ioWorker",
      () => new SocketHandler("h", 9020, { ioWorker: "no" as never }),
      /^ioWorker must be a boolean/,
    ],
    [
      "caller",
      () => new DatagramHandler("h", 9021, { caller: "yes" as never }),
      /^caller must be a boolean/,
    ],
    [
      "filters",
      () => new SocketHandler("h", 9020, { filters: (() => true) as never }),
      /^filters must be an array of functions/,
    ],
  ];
  for (const [what, make, message] of bad) {
    throws(make, (e: Error) => {
      ok(e instanceof TypeError, `${what}: ${e}`);
      match(e.message, message, what);
      return true;
    });
  }
});
