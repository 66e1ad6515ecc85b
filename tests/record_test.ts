// Records judged by CPython: makePickle's frames go through
// logging.makeLogRecord(pickle.loads(...)) and a logging.Formatter.
import { deepEqual, equal, match, ok, throws } from "node:assert/strict";
import {
  getLevelName,
  getLevelNo,
  getMessage,
  type LogRecordDict,
  makeLogRecord,
  makePickle,
  RECORD_KEYS,
  tuple,
} from "../mod.ts";
import { frameLength, writeFrame } from "../record.ts";
import { lengthPrefixed, prng, pyScript, runPython } from "./_helpers.ts";

Deno.test("makeLogRecord fills every CPython key with CPython's sentinels", () => {
  const r = makeLogRecord();
  deepEqual(Object.keys(r), RECORD_KEYS);
  equal(r.name, "root");
  equal(r.msg, "");
  equal(r.args, null);
  equal(r.levelno, 0);
  equal(r.levelname, "NOTSET");
  equal(r.pathname, "(unknown file)");
  equal(r.filename, "(unknown file)");
  equal(r.module, "Unknown module");
  equal(r.exc_info, null);
  equal(r.exc_text, null);
  equal(r.stack_info, null);
  equal(r.lineno, 0);
  equal(r.funcName, "(unknown function)");
  ok(Math.abs(r.created - Date.now() / 1000) < 5);
  equal(r.msecs, Math.floor(r.created * 1000) % 1000);
  ok(r.relativeCreated >= 0);
  equal(r.thread, 0);
  equal(r.threadName, "MainThread");
  equal(r.processName, "MainProcess");
  equal(r.process, Deno.pid);
  equal(r.taskName, null);
});

Deno.test("levels both ways: WARN is WARNING, trace 5, fatal 50, Level N", () => {
  equal(makeLogRecord({ levelname: "WARN" }).levelno, 30);
  equal(makeLogRecord({ levelname: "WARN" }).levelname, "WARNING");
  equal(makeLogRecord({ levelname: "fatal" }).levelname, "CRITICAL");
  equal(makeLogRecord({ levelno: 5 }).levelname, "TRACE");
  equal(makeLogRecord({ levelno: 25 }).levelname, "Level 25");
  equal(makeLogRecord({ levelname: "Level 25" }).levelno, 25);
  equal(getLevelNo("critical"), 50);
  equal(getLevelNo("trace"), 5);
  equal(getLevelName(40), "ERROR");
  throws(() => getLevelNo("LOUD"), /Unknown level/);
});

Deno.test("extras become keys; one that would overwrite a key is refused, as CPython's makeRecord does", () => {
  const r = makeLogRecord({ msg: "m", user: "ann" }, { n: 1, tags: ["a"] });
  equal(r.name, "root");
  equal(r.user, "ann");
  equal(r.n, 1);
  deepEqual(Object.keys(r).slice(RECORD_KEYS.length), ["user", "n", "tags"]);
  for (const key of ["name", "user", "message", "asctime"]) {
    throws(
      () => makeLogRecord({ msg: "m", user: "ann" }, { [key]: "x" }),
      new TypeError(`Attempt to overwrite '${key}' in LogRecord`),
    );
  }
});

Deno.test("pathname from a file: URL; filename and module derived", () => {
  const r = makeLogRecord({ pathname: "file:///srv/app/my%20mod.ts" });
  equal(r.pathname, "/srv/app/my mod.ts");
  equal(r.filename, "my mod.ts");
  equal(r.module, "my mod");
});

Deno.test("an Error in exc_info becomes exc_text", () => {
  const r = makeLogRecord({ exc_info: new RangeError("bad range") });
  equal(r.exc_info, null);
  ok(r.exc_text?.startsWith("RangeError: bad range\n    at "));
});

Deno.test("getMessage formats like Python's % operator", async () => {
  const cases: [string, unknown[] | Record<string, unknown>][] = [
    ["%s took %.1f ms", ["GET", 1.25]],
    ["%d items, %5.2f%%, %-6s|", [42, 3.14159, "ab"]],
    ["%x %X %o %#x %+d % d", [255, 255, 8, 255, 5, 7]],
    ["%e %g %g %g %G", [12345.678, 0.0001, 123456789, 1.5, 1e-10]],
    ["%.1f %.1f %.0f %.0f %.2f %.1e %.0e %g", [
      0.25,
      0.35,
      0.5,
      1.5,
      2.675,
      1.25,
      2.5,
      0.00001234,
    ]],
    ["%(user)s logged in from %(ip)s", { user: "ann", ip: "10.0.0.1" }],
    ["%r and %s", ["it's", null]],
    ["%05d|%-5d|%5s", [-42, 7, "x"]],
    ["%s %s", [true, false]],
    ["%.3s", ["abcdef"]],
    ["%c%c", [65, "z"]],
  ];
  const ours = cases.map(([msg, args]) => getMessage({ msg, args }));
  const script = `
import json, sys
cases = json.load(sys.stdin)
for fmt, args in cases:
    print(fmt % (tuple(args) if isinstance(args, list) else args))
`;
  const theirs = (await runPython(["-c", script], JSON.stringify(cases))).split(
    "\n",
  );
  for (let i = 0; i < cases.length; i++) {
    equal(ours[i], theirs[i], `case ${i}: ${cases[i][0]}`);
  }
  throws(
    () => getMessage({ msg: "%s %s", args: ["one"] }),
    /not enough arguments/,
  );
  throws(
    () => getMessage({ msg: "%s", args: ["one", "two"] }),
    /not all arguments/,
  );
  equal(getMessage({ msg: { a: 1 } }), "{ a: 1 }");
  equal(getMessage({ msg: "no args %s", args: [] }), "no args %s");
});

Deno.test("messages (%s, %d, %.Nf short paths) agree with Python on 6,000 seeded values, exact ties included, as text and as pickled", async () => {
  const rand = prng(20261126);
  const values: number[] = [];
  for (let i = 0; i < 2_000; i++) {
    const k = rand();
    // Exact binary ties (n + 1/2^j), near ties, integers, wide magnitudes.
    const n = Math.floor(rand() * 10_000) - 5_000;
    values.push(
      k < 0.3
        ? n + 2 ** -(1 + Math.floor(rand() * 6))
        : k < 0.5
        ? n + 0.5 + (rand() - 0.5) * 1e-9
        : k < 0.7
        ? n
        : (rand() - 0.5) * 10 ** Math.floor(rand() * 22 - 8),
    );
  }
  const words = ["x", "é", "日本", "\u{1f600}", "a'b", ""];
  const cases: [string, unknown[]][] = values.map((v, i) => {
    const p = i % 8;
    const word = words[i % words.length] + i;
    return i % 5 === 4
      ? [`%s ü %.${p % 4}s %d%%`, [word, word, Math.trunc(v)]]
      : [`v=%.${p}f i=%d s=%s f=%f`, [v, Math.trunc(v), word, v]];
  });
  const ours = cases.map(([msg, args]) => getMessage({ msg, args }));
  const frames = cases.map(([msg, args]) => makePickle({ msg, args }));
  const script = `
import json, pickle, struct, sys
data = sys.stdin.buffer.read()
n = struct.unpack(">L", data[:4])[0]
cases = json.loads(data[4:4 + n])
pos = 4 + n
for fmt, args in cases:
    (k,) = struct.unpack(">L", data[pos:pos + 4])
    pickled = pickle.loads(data[pos + 4:pos + 4 + k])["msg"]
    pos += 4 + k
    print(json.dumps([fmt % tuple(args), pickled]))
`;
  const input = lengthPrefixed([
    new TextEncoder().encode(JSON.stringify(cases)),
    ...frames.map((f) => f.subarray(4)),
  ]);
  const theirs = (await runPython(["-c", script], input)).trim().split("\n")
    .map((l) => JSON.parse(l));
  equal(theirs.length, cases.length);
  for (let i = 0; i < cases.length; i++) {
    const [text, pickled] = theirs[i];
    equal(ours[i], text, `value ${values[i]}: ${cases[i][0]}`);
    equal(pickled, text, `pickled, value ${values[i]}: ${cases[i][0]}`);
  }
});

Deno.test("a frame over 2^32-1 bytes is refused, never wrapped", () => {
  equal(frameLength(0xffffffff), 0xffffffff);
  throws(
    () => frameLength(0x100000000),
    /at most 4294967295 \(2\^32-1\) bytes/,
  );
});

Deno.test("CPython's makeLogRecord(pickle.loads(frame)) gives our records back", async () => {
  const err = new Error("boom");
  const records = [
    makeLogRecord({
      name: "bench",
      msg: "request %d handled in %.3f ms for user %s",
      args: [1, 1.5, "alice"],
      levelno: 20,
      pathname: "/srv/app/main.ts",
      lineno: 42,
      funcName: "handle",
      created: 1700000000,
    }),
    makeLogRecord({
      name: "app.db",
      levelname: "ERROR",
      msg: "failed",
      exc_info: err,
    }, {
      user: "ann",
      tags: ["a", "b"],
      pair: tuple(1, "x"),
      when: new Date(0),
      nested: { ok: true, n: 12345678901234567890n },
    }),
    // A record a formatter has set `message` on: makePickle leaves it out.
    Object.assign(makeLogRecord({ msg: "with message key" }), {
      message: "stale",
    }),
  ];
  const frames = records.map((r) => makePickle(r));
  for (const f of frames) {
    equal(new DataView(f.buffer, f.byteOffset).getUint32(0), f.length - 4);
    deepEqual(f.subarray(4, 6), new Uint8Array([0x80, 2]));
  }
  const out = await runPython(
    [pyScript("record_judge.py")],
    lengthPrefixed(frames.map((f) => f.subarray(4))),
  );
  const judged = out.trim().split("\n").map((l) => JSON.parse(l));
  equal(judged.length, records.length);

  const [a, b, c] = judged;
  equal(a.getMessage, "request 1 handled in 1.500 ms for user alice");
  equal(
    a.formatted,
    "bench INFO main.ts:42 handle request 1 handled in 1.500 ms for user alice",
  );
  equal(a.dict.args, null);
  equal(a.types.created, "float");
  equal(a.types.msecs, "float");
  equal(a.types.relativeCreated, "float");
  equal(a.types.lineno, "int");
  equal(a.dict.created, 1700000000);
  deepEqual(a.keys.slice(0, RECORD_KEYS.length), RECORD_KEYS);
  for (const key of RECORD_KEYS) {
    if (key === "msg" || key === "args") continue;
    deepEqual(a.dict[key], records[0][key], key);
  }

  equal(b.dict.name, "app.db");
  equal(b.dict.levelno, 40);
  equal(b.dict.exc_text, err.stack);
  ok(b.formatted.includes("Error: boom\n    at "), b.formatted);
  equal(b.dict.user, "ann");
  deepEqual(b.dict.tags, ["a", "b"]);
  equal(b.types.pair, "tuple");
  equal(b.dict.when, 0);
  deepEqual(b.dict.nested, { ok: true, n: "12345678901234567890" });

  equal(c.keys.includes("message"), false);
  equal(c.getMessage, "with message key");
});

Deno.test("records with over 1,000 keys, keys out of CPython's order, and a self-reference", async () => {
  const big: Record<string, unknown> = {};
  for (let i = 0; i < 2500; i++) big[`k${i}`] = i;
  const reordered = { created: 1, msg: "m", name: "x", ...big };
  const selfRef = makeLogRecord({ msg: "self" });
  selfRef.me = selfRef;
  selfRef.list = [selfRef];
  const frames = [makeLogRecord({ msg: "many" }, big), reordered, selfRef].map((
    r,
  ) => makePickle(r));
  const script = `
import pickle, struct, sys, json
data = sys.stdin.buffer.read(); pos = 0
while pos < len(data):
    (n,) = struct.unpack(">L", data[pos:pos+4]); d = pickle.loads(data[pos+4:pos+4+n]); pos += 4 + n
    print(json.dumps([len(d), d.get("k2499"), d["msg"], type(d["created"]).__name__,
                      d.get("me") is d, d.get("list", [None])[0] is d]))
`;
  const out = (await runPython(
    ["-c", script],
    lengthPrefixed(frames.map((f) => f.subarray(4))),
  )).trim()
    .split("\n").map((l) => JSON.parse(l));
  deepEqual(out[0], [
    RECORD_KEYS.length + 2500,
    2499,
    "many",
    "float",
    false,
    false,
  ]);
  deepEqual(out[1][1], 2499);
  deepEqual(out[1][2], "m");
  deepEqual(out[1][3], "float");
  deepEqual(out[2].slice(4), [true, true]);
});

Deno.test("kept bytes of unchanging keys: 60 records over 6 loggers, 3 levels, 2 files, odd values, all as CPython reads them", async () => {
  const records: LogRecordDict[] = [];
  for (let i = 0; i < 60; i++) {
    const r = makeLogRecord({
      name: i % 7 === 6 ? 1234 as unknown as string : `app.${i % 6}.ünï`,
      levelno: [10, 20, 40][i % 3],
      msg: "n=%d %s",
      args: [i, "é"],
      pathname: i % 2 ? "/srv/a.ts" : "/srv/b.ts",
      lineno: i % 5 === 0 ? 12.5 : i,
      stack_info: i % 4 === 0 ? `stack ${i}` : null,
      created: 1700000000.25 + i,
    }, { seq: i, "7": "integer-like key" });
    if (i % 9 === 0) delete (r as Partial<LogRecordDict>).thread;
    if (i % 11 === 0) r.module = { not: "a string" } as unknown as string;
    if (i % 13 === 0) r.process = 2 ** 40;
    records.push(r);
  }
  const out = await runPython(
    [pyScript("record_judge.py")],
    lengthPrefixed(records.map((r) => makePickle(r).subarray(4))),
  );
  const judged = out.trim().split("\n").map((l) => JSON.parse(l));
  equal(judged.length, records.length);
  for (let i = 0; i < records.length; i++) {
    const want: Record<string, unknown> = {};
    for (const key of Object.keys(records[i])) {
      want[key] = key === "msg"
        ? getMessage(records[i])
        : key === "args" || key === "exc_info"
        ? null
        : records[i][key];
    }
    deepEqual(judged[i].dict, want, `record ${i}`);
    deepEqual(judged[i].keys, Object.keys(want), `record ${i} key order`);
    equal(judged[i].types.created, "float");
  }
});

Deno.test("slabs that fill up mid-record: a record leaving the fast path, and kept blocks, are written whole (400 records, long names and paths, 1,001-extras records)", async () => {
  const many: Record<string, unknown> = {};
  for (let i = 0; i < 1_001; i++) many[`k${i}`] = "v".repeat(i % 7);
  const names = Array.from(
    { length: 6 },
    (_, i) => `n${i}.` + "x".repeat(3_000 + i * 397),
  );
  const paths = Array.from(
    { length: 5 },
    (_, i) => `/p${i}/` + "y".repeat(2_000 + i * 131) + ".ts",
  );
  const frames: Uint8Array[] = [];
  const want: unknown[] = [];
  for (let i = 0; i < 400; i++) {
    // Small records share a 64 KiB slab; after 30 of them a many-keys
    // record starts near its end, and the slab fills up before that record
    // leaves the fast path (at its 1,000th key, about 18 KiB in). Long
    // names and paths are written and kept at every offset, slab ends
    // included.
    const small = i % 31 !== 30;
    // One name and one path often (kept, copied), the others in turn
    // (pushing it out of the blocks, so it is written and kept again).
    const name = names[i % 2 === 0 ? 0 : 1 + (i >> 1) % 5];
    const pathname = paths[i % 3 === 0 ? 0 : 1 + i % 4];
    const r = small
      ? makeLogRecord({ name, pathname, msg: "m %d", args: [i] }, {
        pad: "p".repeat((i * 4_099) % 300),
      })
      : makeLogRecord({ msg: "big", created: 1 }, many);
    frames.push(makePickle(r).slice());
    want.push(
      small
        ? [RECORD_KEYS.length + 1, name, pathname]
        : [RECORD_KEYS.length + 1_001, "root", "(unknown file)"],
    );
  }
  // The many-keys records are the same record: their frames are the same bytes.
  const big = frames.filter((_, i) => i % 31 === 30);
  for (const f of big) deepEqual(f, big[0]);
  const script = `
import json, pickle, struct, sys
data = sys.stdin.buffer.read(); pos = 0
while pos < len(data):
    (n,) = struct.unpack(">L", data[pos:pos+4]); d = pickle.loads(data[pos+4:pos+4+n]); pos += 4 + n
    print(json.dumps([len(d), d["name"], d["pathname"]]))
`;
  const out = (await runPython(
    ["-c", script],
    lengthPrefixed(frames.map((f) => f.subarray(4))),
  )).trim().split("\n").map((l) => JSON.parse(l));
  deepEqual(out, want);
});

Deno.test("a handler's frame written from a partial record is byte for byte makePickle(makeLogRecord(record)), over 3,000 seeded records", () => {
  const rand = prng(4242);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  const values: unknown[] = [
    "text",
    "ünï",
    "\u{1f600}",
    "",
    0,
    -1,
    2 ** 40,
    1.5,
    NaN,
    true,
    null,
    undefined,
    12345678901234567890n,
    [1, "a"],
    { nested: { deep: [1, 2] } },
    new Date(0),
    new Uint8Array([1, 2]),
    tuple(1, 2),
  ];
  const keys = ["seq", "user", "message", "7", "0", "a b", "é", "user_"];
  const bigExtras: Record<string, unknown> = {};
  for (let i = 0; i < 1_001; i++) bigExtras[`k${i}`] = i;
  let fastOnes = 0;
  for (let i = 0; i < 3_000; i++) {
    const init: Record<string, unknown> = {
      name: pick(["app", "app.db", "ünï", 7, { odd: true }]),
      created: i % 7 === 0
        ? new Date(1_700_000_000_000 + i)
        : 1_700_000_000 + i / 8,
    };
    if (rand() < 0.7) init.levelno = pick([10, 20, 30, 40, 50, 5, 0, 33]);
    if (rand() < 0.3) {
      init.levelname = pick(["WARN", "info", "fatal", "Level 12", "custom"]);
    }
    init.msg = pick([
      "plain",
      "n=%d f=%.2f s=%s",
      "%s",
      { not: "a string" },
      "100%% %s",
    ]);
    if (rand() < 0.7) {
      init.args = pick([[i, i / 3, "x"], ["only"], [], null, { k: 1 }]);
    }
    if (rand() < 0.3) {
      init.pathname = pick(["/srv/a.ts", "file:///srv/b.ts", "c.py"]);
    }
    if (rand() < 0.2) init.lineno = pick([1, 12.5, "9"]);
    if (rand() < 0.1) init.exc_info = new Error(`boom ${i}`);
    if (rand() < 0.1) init.stack_info = "stack";
    if (rand() < 0.1) init.thread = pick([1, { t: 1 }]);
    const extras = Math.floor(rand() * 4);
    for (let k = 0; k < extras; k++) init[pick(keys)] = pick(values);
    if (i % 500 === 0) Object.assign(init, bigExtras);
    if (i % 250 === 1) init.self = init;
    if (i % 333 === 2) {
      Object.defineProperty(init, "__proto__", {
        value: { p: 1 },
        enumerable: true,
      });
    }
    let want: Uint8Array | Error;
    try {
      want = makePickle(makeLogRecord(init)).slice();
    } catch (error) {
      want = error as Error;
    }
    let got: Uint8Array | Error | undefined;
    try {
      writeFrame(init, (buf, offset, length) => {
        got = buf.slice(offset, offset + length);
        return true;
      });
    } catch (error) {
      got = error as Error;
    }
    if (want instanceof Error) {
      ok(got instanceof Error, `record ${i}: ${want.message}`);
      equal((got as Error).message, want.message);
    } else {
      deepEqual(got, want, `record ${i}: ${Deno.inspect(init, { depth: 1 })}`);
      fastOnes++;
    }
  }
  // About 4 in 10 records draw a "message" extra, which both refuse alike.
  ok(fastOnes > 1_500, `${fastOnes} records compared`);
});

Deno.test("stack_info: true is the stack of the call, as CPython's stack_info=True gives it; a Python Formatter prints it", async () => {
  function logsWithStack() {
    return [
      makePickle({ name: "app", msg: "where", stack_info: true }),
      makePickle(makeLogRecord({ name: "app", msg: "made", stack_info: true })),
      makePickle({ name: "app", msg: "off", stack_info: false }),
    ];
  }
  const frames = logsWithStack();
  const out = await runPython(
    [pyScript("record_judge.py")],
    lengthPrefixed(frames.map((f) => f.subarray(4))),
  );
  const [a, b, c] = out.trim().split("\n").map((l) => JSON.parse(l));
  for (const r of [a, b]) {
    equal(r.types.stack_info, "str");
    const lines = r.dict.stack_info.split("\n");
    equal(lines[0], "Stack (most recent call last):");
    // Most recent call last: the function that logged ends the stack, and
    // none of pysocklog's own frames are in it.
    match(lines.at(-1), /logsWithStack/);
    ok(!/record\/|handlers\//.test(r.dict.stack_info), r.dict.stack_info);
    // CPython's Formatter appends it (it raised TypeError on a True).
    ok(r.formatted.endsWith(r.dict.stack_info), r.formatted);
  }
  equal(c.dict.stack_info, null);
});
