// The decoder under hostile and heavy input: LONG1/LONG4 of any size in
// linear time, the per-pickle work budget (maxWork), and the dict templates
// (same values as key by key, references kept, __proto__ plain data).
import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { dumps, loads, PickleDecodeError } from "../mod.ts";
import { prng, runPython } from "./_helpers.ts";

const unhex = (h: string) =>
  new Uint8Array(h.match(/../g)?.map((b) => parseInt(b, 16)) ?? []);

function expectDecodeError(bytes: Uint8Array, pattern: RegExp, options = {}) {
  try {
    loads(bytes, options);
  } catch (error) {
    ok(error instanceof PickleDecodeError, `a PickleDecodeError, not ${error}`);
    ok(pattern.test(error.message), error.message);
    return;
  }
  throw new Error("no error");
}

Deno.test("LONG1 and LONG4 of any size read as CPython wrote them", async () => {
  const out = await runPython([
    "-c",
    `
import json, pickle, random
r = random.Random(5)
vals = [0, -1, 255, -256, 2**63, -2**63 - 1, 2**2040 - 1, -2**2040]
vals += [r.getrandbits(8 * n) * r.choice([1, -1]) for n in (7, 8, 255, 256, 10_000, 100_000)]
print(json.dumps({"p": pickle.dumps(vals, 2).hex(), "v": [hex(v) for v in vals]}))
`,
  ]);
  const { p, v } = JSON.parse(out) as { p: string; v: string[] };
  const got = loads(unhex(p)) as (number | bigint)[];
  const want = v.map((h) => {
    const n = h.startsWith("-") ? -BigInt(h.slice(1)) : BigInt(h);
    return n >= -(2n ** 53n) + 1n && n <= 2n ** 53n - 1n ? Number(n) : n;
  });
  // The 100,000-byte LONG4 was refused before (a 10,000-byte cap).
  deepEqual(got, want);
});

Deno.test("the 16 MB frame of 1,600 LONG4 ints of 10,000 bytes reads right (timed in bench/long4_compare.ts)", () => {
  const rand = prng(1600);
  const frame = long4Frame(1600, 10_000, rand);
  ok(frame.length < 16 * 1024 * 1024);
  const got = loads(frame) as bigint[];
  equal(got.length, 1600);
  // A budget below its size refuses it before reading anything.
  expectDecodeError(frame, /maxWork/, { maxWork: 1_000_000 });
  // A few against the slow, obviously right reading (one byte at a time).
  for (const i of [0, 799, 1599]) {
    const at = 3 + i * 10_005 + 5;
    let want = 0n;
    for (let j = 10_000 - 1; j >= 0; j--) {
      want = (want << 8n) | BigInt(frame[at + j]);
    }
    if (frame[at + 9_999] & 0x80) want -= 1n << 80_000n;
    equal(got[i], want, `int ${i}`);
  }
});

/** PROTO 2, MARK, `count` LONG4s of `size` random bytes, LIST, STOP. */
function long4Frame(count: number, size: number, rand: () => number) {
  const frame = new Uint8Array(3 + count * (5 + size) + 2);
  frame.set([0x80, 2, 0x28]);
  let at = 3;
  for (let i = 0; i < count; i++) {
    frame[at] = 0x8b;
    new DataView(frame.buffer).setInt32(at + 1, size, true);
    for (let j = 0; j < size; j++) frame[at + 5 + j] = (rand() * 256) | 0;
    at += 5 + size;
  }
  frame.set([0x6c, 0x2e], at);
  return frame;
}

Deno.test("maxWork: a pickle that passes one big memoized list to call after call fails; honest ones pass", () => {
  // bytes(l) 20,000 times over one memoized list of 20,000 ints: 180 KB of
  // pickle asking for 400 M items copied.
  expectDecodeError(amplifier(20_000), /maxWork/);
  // 2,000 times 2,000 (4 M) fits the default budget, not a budget of 1 M.
  equal(loads(amplifier(2_000)), null);
  expectDecodeError(amplifier(2_000), /maxWork/, { maxWork: 1_000_000 });
  // A pickle longer than the budget fails before any work.
  expectDecodeError(amplifier(10), /maxWork/, { maxWork: 10 });
  // Limits are checked up front.
  for (const bad of [-1, NaN, "10"]) {
    throws(
      () => loads(amplifier(1), { maxWork: bad as number }),
      RangeError,
    );
  }
  throws(
    () => loads(amplifier(1), { globals: "run" as "inert" }),
    RangeError,
  );
});

/** `n` times `bytes(l)` of one memoized list `l` of `n` ints; then None. */
function amplifier(n: number): Uint8Array {
  const parts: number[] = [0x80, 2, 0x28];
  for (let i = 0; i < n; i++) parts.push(0x4b, 7);
  parts.push(0x6c, 0x71, 1, 0x30);
  parts.push(...new TextEncoder().encode("cbuiltins\nbytes\n"), 0x71, 0, 0x30);
  for (let i = 0; i < n; i++) parts.push(0x68, 0, 0x68, 1, 0x85, 0x52, 0x30);
  parts.push(0x4e, 0x2e);
  return Uint8Array.from(parts);
}

Deno.test("dicts made from templates: equal values, shared and cyclic references kept, __proto__ data", async () => {
  const out = await runPython([
    "-c",
    `
import json, logging, logging.handlers, pickle
keys = dict(a=1, b="x", c=None, d=2.5, e=[1], f={"g": 1}, h="y")
shared = dict(keys)
cyclic = dict(keys); cyclic["me"] = cyclic
proto = dict(keys); proto["__proto__"] = {"polluted": 1}
nested = {"inner": dict(keys), "list": [dict(keys), dict(keys)]}
deep = dict(keys); deep["sub"] = {"up": [deep, deep], "n": 1}
cases = [[shared, shared], {"x": shared, "y": shared}, cyclic, proto, nested, deep]
rec = logging.makeLogRecord({"name": "t", "msg": "m"})
frame = logging.handlers.SocketHandler("localhost", 0).makePickle(rec)
print(json.dumps({"cases": [[pickle.dumps(c, p).hex() for p in range(6)] for c in cases],
                  "frame": frame[4:].hex()}))
`,
  ]);
  const { cases, frame } = JSON.parse(out) as {
    cases: string[][];
    frame: string;
  };
  const keys = { a: 1, b: "x", c: null, d: 2.5, e: [1], f: { g: 1 }, h: "y" };
  // Several rounds: the first sightings build key by key, later ones from
  // the compiled template; both must give the same values.
  for (let round = 0; round < 4; round++) {
    for (let p = 0; p <= 5; p++) {
      const at = `round ${round}, protocol ${p}`;
      const pair = loads(unhex(cases[0][p])) as unknown[];
      ok(pair[0] === pair[1], `shared in a list, ${at}`);
      deepEqual(pair[0], keys, at);
      const two = loads(unhex(cases[1][p])) as Record<string, unknown>;
      ok(two.x === two.y, `shared in a dict, ${at}`);
      const cyc = loads(unhex(cases[2][p])) as Record<string, unknown>;
      ok(cyc.me === cyc, `cycle, ${at}`);
      const proto = loads(unhex(cases[3][p])) as Record<string, unknown>;
      equal(Object.getPrototypeOf(proto), Object.prototype, at);
      ok(Object.hasOwn(proto, "__proto__"), at);
      deepEqual(Object.keys(proto), [...Object.keys(keys), "__proto__"]);
      equal(({} as Record<string, unknown>).polluted, undefined);
      deepEqual(loads(unhex(cases[4][p])), {
        inner: keys,
        list: [keys, keys],
      }, at);
      // A cycle through two levels of MARKs below the dict.
      const deep = loads(unhex(cases[5][p])) as Record<string, unknown>;
      const up = (deep.sub as { up: unknown[] }).up;
      ok(up[0] === deep && up[1] === deep, `deep cycle, ${at}`);
    }
    const record = loads(unhex(frame)) as Record<string, unknown>;
    equal(Object.getPrototypeOf(record), Object.prototype);
    equal(record.name, "t");
    equal(record.msg, "m");
    ok(Object.keys(record).length >= 20);
  }
});

Deno.test("dict templates under a sender that varies its keys: every dict still reads right", () => {
  // 2,000 key sets, each sent twice (the second sighting is when a
  // template may be compiled), between dicts of one steady key set.
  const steady = Object.fromEntries(
    Array.from({ length: 12 }, (_, k) => [`key${k}`, k]),
  );
  const steadyBytes = dumps(steady);
  for (let i = 0; i < 2_000; i++) {
    const varied = Object.fromEntries(
      Array.from({ length: 6 + (i % 20) }, (_, k) => [`k${i}_${k}`, k * i]),
    );
    const bytes = dumps(varied);
    deepEqual(loads(bytes), varied);
    deepEqual(loads(bytes), varied);
    deepEqual(loads(steadyBytes), steady);
  }
});
