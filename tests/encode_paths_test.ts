// The record encoder's newer paths against the reference (the generic
// encoder's dumps() of CPython's makePickle dict, framed) and CPython:
// filename and module derived only when the source run is not kept, an
// extra object's keys through the string cache, bytes written in one pass
// without a branch, ready runs copied 8 bytes a step, and the Writer's
// positions kept as small integers (a double there slowed every later
// record: V8 field generalization).
import { deepEqual, equal } from "node:assert/strict";
import {
  dumps,
  type LogRecordInit,
  makeLogRecord,
  makePickle,
} from "../mod.ts";
import { writeFrame } from "../record/encode.ts";
import { handlerFrame, referenceFrame } from "./_frames.ts";
import { makeCorpus } from "../bench/_corpus.ts";
import { copyRun } from "../pickle/_writer.ts";
import { hex, prng, runPython } from "./_helpers.ts";

/** Each record through makePickle and writeFrame, twice (the second from kept runs). */
function assertReference(records: LogRecordInit[]): void {
  for (let pass = 0; pass < 2; pass++) {
    records.forEach((init, i) => {
      const want = hex(referenceFrame(init));
      equal(
        hex(makePickle(init)),
        want,
        `makePickle, record ${i}, pass ${pass}`,
      );
      equal(
        hex(handlerFrame(init)),
        want,
        `writeFrame, record ${i}, pass ${pass}`,
      );
    });
  }
}

const base = {
  name: "paths",
  msg: "m %d",
  args: [1],
  created: 1_795_000_000.25,
};

Deno.test("filename and module derived from pathname, kept or not, as makeLogRecord derives them", () => {
  const pathnames = [
    "/srv/app/a.ts",
    "/srv/app/a.b.c.ts",
    "/srv/app/.hidden",
    "/srv/app/noext",
    "C:\\app\\win.py",
    "file:///srv/app/url%20name.ts",
    "plain.py",
    "(unknown file)",
    "",
    "/srv/app/\u4e2d\u6587.ts",
    "/srv/app/lone\ud800.ts",
  ];
  const records: LogRecordInit[] = [];
  for (const pathname of pathnames) {
    records.push({ ...base, pathname });
    records.push({ ...base, pathname, filename: "given.py" });
    records.push({ ...base, pathname, module: "given" });
    records.push({
      ...base,
      pathname,
      filename: null as unknown as string,
      module: undefined,
    });
  }
  records.push({ ...base }); // no pathname: "(unknown file)"
  records.push({ ...base, pathname: undefined });
  assertReference(records);
});

/** Texts around the message writer's switch points: ASCII, then not. */
const TEXTS = [
  "",
  "a",
  "x".repeat(255),
  "x".repeat(256),
  "x".repeat(257),
  "\u00e9" + "x".repeat(40),
  "x".repeat(40) + "\u00e9",
  "x".repeat(20) + "\u4e2d" + "y".repeat(20),
  "\ud83d\ude00 smile",
  "end \ud83d",
  "\udc00 start",
  "x".repeat(255) + "\u4e2d",
  "\u4e2d".repeat(300),
];

Deno.test("messages and %s arguments, ASCII or not, match the reference", () => {
  const records: LogRecordInit[] = [];
  for (const t of TEXTS) {
    records.push({ ...base, msg: t, args: undefined });
    records.push({ ...base, msg: "a %s b", args: [t] });
    records.push({ ...base, msg: "%s%s", args: [t, t] });
    records.push({ ...base, msg: t + " %s", args: ["\u4e2d" + t] });
  }
  assertReference(records);
});

Deno.test("extras of every scalar kind match the reference", () => {
  const values: unknown[] = [
    ...TEXTS,
    0,
    -0,
    1,
    255,
    256,
    65535,
    65536,
    -1,
    2 ** 31 - 1,
    -(2 ** 31),
    2 ** 31,
    -(2 ** 31) - 1,
    2 ** 53 - 1,
    2 ** 53,
    -(2 ** 53),
    0.5,
    NaN,
    Infinity,
    -Infinity,
    true,
    false,
    null,
    undefined,
    0n,
    -(2n ** 70n),
    Symbol("s"),
    () => 1,
  ];
  assertReference(values.map((v) => ({ ...base, a: v, b: [v], c: { v } })));
});

/** Object keys the string cache must write as BINUNICODE writes them. */
const KEYS = [
  "",
  "k",
  "x".repeat(127),
  "y".repeat(128),
  "z".repeat(129),
  "\u00e9t\u00e9",
  "\u4e2d\u6587\u952e",
  "\ud83d\ude00",
  "lone\ud800",
  "\udc00lone",
  "w".repeat(60) + "\u4e2d",
];

Deno.test("an extra object's keys, through the string cache, match the reference", () => {
  const records: LogRecordInit[] = KEYS.map((key, i) => ({
    ...base,
    ctx: { [key]: i, inner: { [key]: [key] } },
    tags: new Map([[key, key]]),
  }));
  assertReference(records);
});

/** Byte arrays of every length to 40: low, high, and high at either end. */
function byteArrays(): Uint8Array[] {
  const r = prng(3);
  const out: Uint8Array[] = [];
  for (let n = 0; n <= 40; n++) {
    const low = Uint8Array.from({ length: n }, () => Math.floor(r() * 0x80));
    const high = Uint8Array.from(
      { length: n },
      () => 0x80 + Math.floor(r() * 0x80),
    );
    const mixed = Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
    const highEnd = low.slice();
    if (n > 0) highEnd[n - 1] = 0xff;
    const highStart = low.slice();
    if (n > 0) highStart[0] = 0x80;
    out.push(low, high, mixed, highEnd, highStart);
  }
  return out;
}

Deno.test("bytes: the same frames as the reference, and CPython reads them back", async () => {
  const arrays = byteArrays();
  assertReference(
    arrays.map((b) => ({ ...base, payload: b, nested: [b, { b }] })),
  );
  // CPython: each pickle loads to the same bytes (also inside a list).
  const pickles = arrays.map((b) => hex(dumps([b, [b]])));
  const out = await runPython(
    [
      "-c",
      `import json, pickle, sys
for h in json.load(sys.stdin):
    v = pickle.loads(bytes.fromhex(h))
    assert type(v[0]) is bytes and v[1][0] is v[0], v
    print(v[0].hex())`,
    ],
    JSON.stringify(pickles),
  );
  deepEqual(out.split("\n").slice(0, -1), arrays.map(hex));
});

Deno.test("copyRun copies every length at every alignment", () => {
  const src = Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff);
  const srcView = new DataView(src.buffer);
  for (let from = 0; from < 8; from++) {
    for (let at = 0; at < 8; at++) {
      for (let n = 0; n <= 40; n++) {
        const buf = new Uint8Array(64).fill(0xee);
        const end = copyRun(
          buf,
          new DataView(buf.buffer),
          at,
          src,
          srcView,
          from,
          n,
        );
        equal(end, at + n);
        deepEqual(buf.subarray(at, at + n), src.subarray(from, from + n));
        // Nothing written past the end or before the start.
        equal(buf.subarray(at + n).every((b) => b === 0xee), true);
        equal(buf.subarray(0, at).every((b) => b === 0xee), true);
      }
    }
  }
});

Deno.test("the Writer's positions stay small integers after long text (no double fields)", async () => {
  // A double stored in Writer.pos turns pos and start into double fields
  // for good (V8 field generalization); every later record then pays for
  // it. V8 reports each generalization with --trace-generalization.
  const mod = new URL("../mod.ts", import.meta.url).href;
  const dir = await Deno.makeTempDir({ prefix: "pysocklog_paths_" });
  try {
    const script = `${dir}/generalization.ts`;
    await Deno.writeTextFile(
      script,
      `import { makePickle } from ${JSON.stringify(mod)};
const err = new Error("boom");
err.stack = "Error: boom\\n" + "    at f (file:///srv/app/x.ts:1:1)\\n".repeat(40);
for (let i = 0; i < 3000; i++) {
  makePickle({ name: "g", msg: "long ascii message ".repeat(8) + i, exc_info: err });
  makePickle({ name: "g", msg: "short %s", args: ["\u4e2d" + i], created: 1e9 + i / 7 });
}
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--v8-flags=--trace-generalization", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    equal(out.success, true, new TextDecoder().decode(out.stderr));
    const lines = new TextDecoder().decode(out.stdout).split("\n");
    const toDouble = lines.filter((l) =>
      /^\[generalizing\](pos|start):.*->d\{/.test(l) && l.includes("_writer.ts")
    );
    deepEqual(toDouble, []);
    // The trace is there at all (else this test could not fail).
    equal(lines.some((l) => l.startsWith("[generalizing]")), true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("caller fields given to writeFrame write what a copy of the record with them writes", () => {
  class Rec {
    name = "cls";
    msg = "from a class %s";
    args = ["x"];
    created = 1_795_000_000.5;
  }
  const where = [
    { pathname: "/srv/app/main.ts", lineno: 12, funcName: "serve" },
    { pathname: "file:///srv/app/b%20c.ts", lineno: 3, funcName: "<module>" },
  ];
  const records: LogRecordInit[] = [
    ...makeCorpus({ size: 300, seed: 5 }).map((r) => {
      const { pathname: _p, lineno: _l, funcName: _f, ...rest } = r;
      return rest;
    }),
    { ...base, pathname: undefined, filename: "given.py", extra1: 1 },
    { ...base, module: "mod", lineno: 7 },
    new Rec() as unknown as LogRecordInit,
    { ...base, 0: "index key first" },
    makeLogRecord({ ...base, name: "made" }),
  ];
  for (let pass = 0; pass < 2; pass++) {
    records.forEach((init, i) => {
      const at = where[i % where.length];
      let frame: Uint8Array | undefined;
      writeFrame(
        init,
        (buf, offset, length) => {
          frame = buf.slice(offset, offset + length);
          return true;
        },
        -Infinity,
        at,
      );
      equal(
        hex(frame!),
        hex(referenceFrame({ ...init, ...at })),
        `record ${i}, pass ${pass}`,
      );
    });
  }
});
