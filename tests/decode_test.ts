// The safe decoder, judged against CPython: what CPython pickles (protocols
// 0 to 5) we read back equal; what is hostile or broken fails with a
// PickleDecodeError, and nothing else happens.
import { deepEqual, equal, ok, throws } from "node:assert/strict";
import {
  dumps,
  isTuple,
  loads,
  makePickle,
  PickleDecodeError,
  PickleGlobal,
  PickleObject,
  PickleSet,
} from "../mod.ts";
import { stringHash } from "../pickle/_text.ts";
import { hex, prng, pyScript, runPython } from "./_helpers.ts";

const unhex = (h: string) =>
  new Uint8Array(h.match(/../g)?.map((b) => parseInt(b, 16)) ?? []);

function floatHex(v: number): string {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, v);
  return hex(b);
}

function utf16Hex(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    out += s.charCodeAt(i).toString(16).padStart(4, "0");
  }
  return out;
}

/** The canonical form of tests/_py/decode_corpus.py's `canon`, for our values. */
function canon(v: unknown, ids: Map<object, number>): unknown {
  if (v === null) return ["N"];
  if (typeof v === "boolean") return ["B", v];
  if (typeof v === "bigint") return ["#", v.toString()];
  if (typeof v === "number") {
    if (Number.isNaN(v)) return ["#", "nan"];
    if (v === Infinity) return ["#", "inf"];
    if (v === -Infinity) return ["#", "-inf"];
    if (Object.is(v, -0)) return ["#", "-0"];
    if (Number.isInteger(v)) return ["#", BigInt(v).toString()];
    return ["#f", floatHex(v)];
  }
  if (typeof v === "string") return ["S", utf16Hex(v)];
  if (v instanceof Uint8Array) return ["Y", hex(v)];
  if (typeof v !== "object") throw new TypeError(`unexpected ${typeof v}`);
  if (ids.has(v)) return ["R", ids.get(v)];
  if (isTuple(v)) return ["T", v.map((x) => canon(x, ids))];
  if (Array.isArray(v)) {
    ids.set(v, ids.size);
    return ["L", v.map((x) => canon(x, ids))];
  }
  if (v instanceof Set) {
    return ["E", [...v].map((x) => JSON.stringify(canon(x, new Map()))).sort()];
  }
  let entries: [unknown, unknown][];
  if (v instanceof Map) {
    entries = [...v];
  } else {
    equal(
      Object.getPrototypeOf(v),
      Object.prototype,
      "dicts are plain objects",
    );
    entries = Object.keys(v).map((k) => [k, (v as Record<string, unknown>)[k]]);
  }
  ids.set(v, ids.size);
  const keyed = entries.map(([k, x]) =>
    [JSON.stringify(canon(k, new Map())), k, x] as const
  );
  keyed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return ["D", keyed.map(([, k, x]) => [canon(k, new Map()), canon(x, ids)])];
}

interface Case {
  canon: unknown;
  p: string[];
}

async function corpus(seed: number, count: number): Promise<Case[]> {
  const out = await runPython([
    pyScript("decode_corpus.py"),
    String(seed),
    String(count),
  ]);
  return out.trim().split("\n").map((l) => JSON.parse(l));
}

Deno.test("1,200 seeded random values pickled by CPython with protocols 0-5 read back equal", async () => {
  const cases = await corpus(20261124, 1200);
  equal(cases.length, 1200);
  let checked = 0;
  for (const [i, c] of cases.entries()) {
    for (let proto = 0; proto <= 5; proto++) {
      const value = loads(unhex(c.p[proto]));
      deepEqual(
        canon(value, new Map()),
        c.canon,
        `value ${i}, protocol ${proto}`,
      );
      checked++;
    }
  }
  equal(checked, 7200);
});

Deno.test("what loads reads, dumps writes back and loads reads again equal", async () => {
  const cases = await corpus(7, 300);
  for (const c of cases) {
    const once = loads(unhex(c.p[2]));
    const again = loads(dumps(once));
    deepEqual(canon(again, new Map()), c.canon);
  }
});

Deno.test("our makePickle frames read back", () => {
  const frame = makePickle({
    name: "app.db",
    levelname: "WARN",
    msg: "took %.1f ms",
    args: [12.345],
    exc_info: new Error("boom"),
    user: "ålice \u{1f600} \ud800",
    big: 2n ** 90n,
  });
  const r = loads(frame.subarray(4)) as Record<string, unknown>;
  equal(r.msg, "took 12.3 ms");
  equal(r.levelname, "WARNING");
  equal(r.user, "ålice \u{1f600} \ud800");
  equal(r.big, 2n ** 90n);
  ok((r.exc_text as string).startsWith("Error: boom\n"));
  equal(r.args, null);
});

/** A pickle of one str: BINUNICODE (protocol 2) or SHORT_BINUNICODE (4). */
function strPickle(s: string, short: boolean): Uint8Array {
  const b = new TextEncoder().encode(s);
  const head = short
    ? [0x80, 4, 0x8c, b.length]
    : [0x80, 2, 0x58, b.length, 0, 0, 0];
  return new Uint8Array([...head, ...b, 0x2e]);
}

/** Decodes each string `times` times, in a seeded random order. */
function decodeEach(strings: string[], times: number, seed: number): void {
  const rand = prng(seed);
  const order = strings.flatMap((s) => Array(times).fill(s) as string[]);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  for (const [i, s] of order.entries()) {
    equal(loads(strPickle(s, (i & 1) === 1)), s);
  }
}

Deno.test("strings that differ only in digits read right, again and again (the string cache)", async () => {
  const strings: string[] = [];
  for (let i = 0; i < 100; i++) {
    for (const kind of ["api", "db", "worker"]) strings.push(`svc${i}.${kind}`);
    strings.push(`/srv/app/mod${i}.py`, `mod${i}.py`, `fn${i}`, `u${i}`);
    strings.push(`${i}abc`, `abc${i}`, `${"0".repeat(30)}${i % 10}${i % 7}`);
  }
  strings.push("s", "sv", "svc", "svc1", "svc1.", "svc1.d", "svc1.db");
  decodeEach([...new Set(strings)], 4, 11);
  // CPython's own record frames, their names and paths varied by digits.
  const out = await runPython([
    "-c",
    `
import logging, logging.handlers, sys
h = logging.handlers.SocketHandler("localhost", 0)
for i in range(600):
    s = i * 7 % 120
    r = logging.LogRecord("svc%d.db" % (s % 40), 20, "/srv/app/mod%d.py" % (s % 25),
                          10 + s, "m", None, None, func="fn%d" % s)
    sys.stdout.write(h.makePickle(r).hex() + "\\n")
`,
  ]);
  for (const [i, line] of out.trim().split("\n").entries()) {
    const r = loads(unhex(line).subarray(4)) as Record<string, unknown>;
    const s = i * 7 % 120;
    equal(r.name, `svc${s % 40}.db`);
    equal(r.pathname, `/srv/app/mod${s % 25}.py`);
    equal(r.filename, `mod${s % 25}.py`);
    equal(r.module, `mod${s % 25}`);
    equal(r.funcName, `fn${s}`);
    equal(r.lineno, 10 + s);
  }
});

Deno.test("strings of one hash, or of one cache set, read as themselves", () => {
  // Two different strings of one length whose hashes are equal: only a
  // comparison of their bytes tells them apart.
  const rand = prng(5);
  const seen = new Map<number, string>();
  const buf = new Uint8Array(12);
  let pair: [string, string] | undefined;
  for (let tries = 0; pair === undefined && tries < 2_000_000; tries++) {
    for (let i = 0; i < buf.length; i++) buf[i] = 0x61 + rand() * 26;
    const h = stringHash(buf, 0, buf.length);
    const s = String.fromCharCode(...buf);
    const other = seen.get(h);
    if (other !== undefined && other !== s) pair = [other, s];
    seen.set(h, s);
  }
  ok(pair !== undefined);
  const [a, b] = pair.map((s) => new TextEncoder().encode(s));
  equal(stringHash(a, 0, a.length), stringHash(b, 0, b.length));
  decodeEach(pair, 6, 1);
  // Many strings of the cache's longest length in one set (the set is the
  // hash's top 11 bits): each replaces another and reads as itself.
  const bySet = new Map<number, string[]>();
  const long = new Uint8Array(32);
  for (let i = 0; i < 20_000; i++) {
    for (let j = 0; j < long.length; j++) long[j] = 0x30 + rand() * 10;
    const set = stringHash(long, 0, long.length) >>> 21;
    const list = bySet.get(set) ?? [];
    list.push(String.fromCharCode(...long));
    bySet.set(set, list);
  }
  const crowd = [...bySet.values()].sort((x, y) => y.length - x.length)[0];
  ok(crowd.length >= 6, `${crowd.length} strings in one set`);
  decodeEach(crowd, 5, 2);
});

Deno.test("globals are inert, or refused with globals: 'reject'", async () => {
  const dir = await Deno.makeTempDir();
  const marker = `${dir}/pwned`;
  try {
    const h = JSON.parse(
      await runPython([pyScript("hostile.py"), marker]),
    ) as Record<string, string>;
    const shell = loads(unhex(h.shell));
    ok(shell instanceof PickleObject);
    ok(shell.global instanceof PickleGlobal);
    equal(shell.global.module, "posix");
    equal(shell.global.name, "system");
    deepEqual([...shell.args], [`touch ${marker}`]);
    deepEqual(JSON.parse(JSON.stringify(shell)), {
      __global__: "posix.system",
      args: [`touch ${marker}`],
    });
    throws(
      () => loads(unhex(h.shell), { globals: "reject" }),
      PickleDecodeError,
    );
    throws(
      () => loads(unhex(h.nested2), { globals: "reject" }),
      /__builtin__\.eval/,
    );
    // Plain data through globals still reads with "reject": bytes, sets.
    const data = await runPython([
      "-c",
      "import pickle,sys; sys.stdout.write(pickle.dumps([b'\\x00\\xff', {1, 2}, frozenset(['a']), bytearray(b'z')], 2).hex())",
    ]);
    const [bytes, set, frozen, arr] = loads(unhex(data), {
      globals: "reject",
    }) as unknown[];
    deepEqual(bytes, new Uint8Array([0, 255]));
    ok(set instanceof PickleSet && frozen instanceof PickleSet);
    deepEqual([set.frozen, frozen.frozen], [false, true]);
    deepEqual([...set], [1, 2]);
    deepEqual([...frozen], ["a"]);
    deepEqual(arr, new Uint8Array([0x7a]));
    let pwned = true;
    await Deno.stat(marker).catch(() => pwned = false);
    equal(pwned, false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("__proto__ and constructor keys are plain data", async () => {
  const data = await runPython([
    "-c",
    "import pickle,sys; sys.stdout.write(pickle.dumps({'__proto__': {'polluted': 1}, 'constructor': {'prototype': {'polluted': 2}}, 'toString': 3}, 2).hex())",
  ]);
  const v = loads(unhex(data)) as Record<string, unknown>;
  equal(Object.getPrototypeOf(v), Object.prototype);
  ok(Object.hasOwn(v, "__proto__"));
  deepEqual(Object.getOwnPropertyDescriptor(v, "__proto__")!.value, {
    polluted: 1,
  });
  deepEqual(v.constructor, { prototype: { polluted: 2 } });
  equal(v.toString, 3);
  equal(({} as Record<string, unknown>).polluted, undefined);
});

function expectDecodeError(bytes: Uint8Array, pattern?: RegExp, options = {}) {
  try {
    loads(bytes, options);
  } catch (error) {
    ok(error instanceof PickleDecodeError, `a PickleDecodeError, not ${error}`);
    if (pattern) ok(pattern.test(error.message), error.message);
    return;
  }
  throw new Error("no error");
}

Deno.test("limits: depth, memo, items, size; truncated and oversized lengths", () => {
  // 100,000 nested MARKs, and 100,000 lists each appended into the one before.
  const marks = new Uint8Array(100_003).fill(0x28);
  marks.set([0x80, 2]);
  expectDecodeError(marks, /maxDepth/);
  const chain = new Uint8Array(2 + 100_000 + 99_999 + 1);
  chain.set([0x80, 2]);
  chain.fill(0x5d, 2, 100_002); // EMPTY_LIST x 100,000
  chain.fill(0x61, 100_002); // APPEND x 99,999
  chain[chain.length - 1] = 0x2e;
  expectDecodeError(chain, /maxDepth/);
  // The same at a depth that is allowed.
  deepEqual(loads(new Uint8Array([0x80, 2, 0x5d, 0x5d, 0x61, 0x2e])), [[]]);
  // Around the walk's shortcut for records holding flat lists and dicts
  // (APPENDs, no MARK: only the walk at the end sees the depth).
  const two = { maxDepth: 2 };
  deepEqual(loads(dumps({ a: [1], b: [2, 3], c: { d: 4 } }), two), {
    a: [1],
    b: [2, 3],
    c: { d: 4 },
  });
  deepEqual(loads(dumps([[1], [2]]), two), [[1], [2]]);
  for (const deep of [{ a: [1], b: [[2]] }, [[1], [[2]]], { a: { b: {} } }]) {
    expectDecodeError(dumps(deep), /maxDepth/, two);
  }
  expectDecodeError(dumps({ a: [1] }), /maxDepth/, { maxDepth: 1 });
  // Memo index past maxMemo.
  expectDecodeError(
    new Uint8Array([0x80, 2, 0x4e, 0x72, 0xff, 0xff, 0xff, 0xff, 0x2e]),
    /maxMemo/,
  );
  expectDecodeError(
    new Uint8Array([0x80, 2, 0x68, 0x05, 0x2e]),
    /Memo slot 5 is empty/,
  );
  // Too many items.
  expectDecodeError(
    dumps(Array.from({ length: 100 }, (_, i) => i)),
    /maxItems/,
    { maxItems: 50 },
  );
  // Too many bytes.
  expectDecodeError(new Uint8Array(100), /maxBytes/, { maxBytes: 99 });
  // A str claiming 2^32-1 bytes in a 10-byte pickle: fails at once, allocates nothing.
  expectDecodeError(
    new Uint8Array([0x80, 2, 0x58, 0xff, 0xff, 0xff, 0xff, 0x61, 0x2e]),
    /Truncated/,
  );
  expectDecodeError(
    new Uint8Array([
      0x80,
      4,
      0x8d,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0x7f,
      0x2e,
    ]),
    /Length too large|Truncated/,
  );
  // Every prefix of a real record pickle.
  const pickle = makePickle({
    name: "n",
    msg: "m",
    extra_list: [1, [2, { a: 3 }]],
  }).subarray(4);
  for (let n = 0; n < pickle.length; n++) {
    expectDecodeError(pickle.subarray(0, n));
  }
  // Unsupported and unknown opcodes.
  expectDecodeError(new Uint8Array([0x80, 2, 0x4e, 0x51, 0x2e]), /Persistent/);
  expectDecodeError(new Uint8Array([0x80, 2, 0xff]), /Unknown opcode 0xff/);
  expectDecodeError(new Uint8Array([0x80, 9]), /protocol 9/);
  expectDecodeError(new Uint8Array([0x61, 0x2e]), /underflow/);
  expectDecodeError(new Uint8Array([0x80, 2, 0x4e, 0x52, 0x2e]), /underflow/);
  // Bytes after STOP are ignored, as CPython does.
  equal(loads(new Uint8Array([0x80, 2, 0x4b, 7, 0x2e, 0xff, 0xff])), 7);
});

Deno.test("garbage and mutated pickles: a value or a PickleDecodeError, nothing else", async () => {
  const rand = prng(424242);
  const cases = await corpus(99, 60);
  const seeds = [
    ...cases.flatMap((
      c,
    ) => [unhex(c.p[0]), unhex(c.p[1]), unhex(c.p[2]), unhex(c.p[5])]),
    makePickle({ name: "fuzz", msg: "m", n: [1, 2, { k: "v" }] }).subarray(4),
  ];
  let values = 0;
  let errors = 0;
  const tryOne = (b: Uint8Array) => {
    try {
      loads(b);
      values++;
    } catch (error) {
      if (!(error instanceof PickleDecodeError)) throw error;
      errors++;
    }
  };
  for (let i = 0; i < 10_000; i++) {
    tryOne(
      Uint8Array.from(
        { length: Math.floor(rand() * 64) },
        () => Math.floor(rand() * 256),
      ),
    );
  }
  for (let i = 0; i < 20_000; i++) {
    const seed = seeds[i % seeds.length];
    let b = Uint8Array.from(seed);
    const kind = rand();
    if (kind < 0.5) {
      for (let e = 1 + Math.floor(rand() * 3); e > 0; e--) {
        b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      }
    } else if (kind < 0.7) {
      const at = Math.floor(rand() * b.length);
      b = new Uint8Array([
        ...b.subarray(0, at),
        Math.floor(rand() * 256),
        ...b.subarray(at),
      ]);
    } else if (kind < 0.85) {
      const at = Math.floor(rand() * b.length);
      b = new Uint8Array([...b.subarray(0, at), ...b.subarray(at + 1)]);
    } else {
      const other = seeds[Math.floor(rand() * seeds.length)];
      const cut = Math.floor(rand() * b.length);
      b = new Uint8Array([
        ...b.subarray(0, cut),
        ...other.subarray(Math.floor(rand() * other.length)),
      ]);
    }
    tryOne(b);
  }
  equal(values + errors, 30_000);
  ok(values > 0 && errors > 0);
  equal(({} as Record<string, unknown>).polluted, undefined);
  equal(Object.getPrototypeOf({}), Object.prototype);
});

Deno.test("the decoder's literal case labels agree with pickle/_opcodes.ts", async () => {
  const op = await import("../pickle/_opcodes.ts") as unknown as Record<
    string,
    number
  >;
  const source = await Deno.readTextFile(
    new URL("../pickle/_machine.ts", import.meta.url),
  );
  const labels = [
    ...source.matchAll(/case (0x[0-9a-f]{2}):(?: \{)? \/\/ (\w+)/g),
  ];
  ok(labels.length >= 68, `${labels.length} labels`);
  for (const [, code, name] of labels) equal(op[name], Number(code), name);
  const codes = labels.map(([, code]) => code);
  equal(new Set(codes).size, codes.length, "no opcode twice");
});
