// The encoder judged by CPython: every value we encode is decoded by
// pickle.loads (after pickletools.dis accepts it) and compared with the
// value we meant, containers' identity included.
import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { dumps, isTuple, PickleFloat, tuple } from "../mod.ts";
import { formatError } from "../util/_error_text.ts";
import { hex, lengthPrefixed, prng, pyScript, runPython } from "./_helpers.ts";

type Desc = unknown[];

function floatBits(n: number): string {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, n);
  return hex(b);
}

/** The description of what CPython should rebuild, as encode_judge.py writes it. */
function describe(v: unknown, ids: Map<object, number>): Desc {
  switch (typeof v) {
    case "undefined":
      return ["N"];
    case "boolean":
      return ["b", v];
    case "number":
      return Number.isSafeInteger(v) && !Object.is(v, -0)
        ? ["i", String(v)]
        : ["f", floatBits(v)];
    case "bigint":
      return ["i", v.toString()];
    case "string":
      return ["s", v];
    case "object": {
      if (v === null) return ["N"];
      if (v instanceof Uint8Array) return ["y", hex(v)];
      if (v instanceof Date) return ["f", floatBits(v.getTime() / 1000)];
      if (v instanceof PickleFloat) return ["f", floatBits(v.value)];
      if (v instanceof Error) return ["s", formatError(v)];
      if (isTuple(v) && v.length === 0) return ["t", []];
      const seen = ids.get(v);
      if (seen !== undefined) return ["r", seen];
      const n = ids.size;
      ids.set(v, n);
      if (isTuple(v)) return ["t", n, v.map((x) => describe(x, ids))];
      if (Array.isArray(v)) return ["l", n, v.map((x) => describe(x, ids))];
      if (v instanceof Map) {
        return [
          "d",
          n,
          [...v].map(([k, x]) => [describe(k, ids), describe(x, ids)]),
        ];
      }
      if (v instanceof Set) {
        const items = [...v].map((x) => describe(x, ids));
        return [
          "S",
          n,
          items.sort((a, b) => cmp(JSON.stringify(a), JSON.stringify(b))),
        ];
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        ids.delete(v);
        return ["s", String(v)];
      }
      return [
        "d",
        n,
        Object.entries(v).map(([k, x]) => [["s", k], describe(x, ids)]),
      ];
    }
    default:
      return ["s", String(v)];
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Python sorts set items by json.dumps, which escapes non-ASCII: do the same. */
function pyJson(x: unknown): string {
  return JSON.stringify(x, null, 0).replace(
    /[\u007f-\uffff]/g,
    (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"),
  ).replace(/,/g, ", ").replace(
    /:/g,
    ": ",
  );
}

interface Judged {
  v?: Desc;
  cpython?: string;
  error?: string;
}

async function judge(values: unknown[]): Promise<Judged[]> {
  const out = await runPython(
    [pyScript("encode_judge.py")],
    lengthPrefixed(values.map(dumps)),
  );
  return out.trim().split("\n").map((line) => JSON.parse(line));
}

// Integer boundaries: 0, ±2^k ±1 for the thresholds CPython's opcodes use.
const INT_EDGES: bigint[] = [0n];
for (
  const k of [7, 8, 15, 16, 31, 32, 53, 63, 64, 127, 128, 255, 256, 2039, 2040]
) {
  for (const d of [-1n, 0n, 1n]) {
    const p = (1n << BigInt(k)) + d;
    INT_EDGES.push(p, -p);
  }
}

const SPECIAL_FLOATS = [
  NaN,
  Infinity,
  -Infinity,
  -0,
  0.1,
  1e-310,
  1.7976931348623157e308,
  2 ** 53 + 2,
];

const STRINGS = [
  "",
  "plain ascii",
  "é ü ß",
  "日本語のテキスト",
  "😀 astral 𝄞",
  "\ud800",
  "lone low \udfff end",
  "\udbff\udbff",
  "x".repeat(200),
  "é".repeat(100) + "\ud800",
  "😀".repeat(50),
  "nul\u0000inside",
  "\n\r\t\\'\"",
];

function randomString(r: () => number): string {
  if (r() < 0.3) return STRINGS[Math.floor(r() * STRINGS.length)];
  const len = Math.floor(r() * (r() < 0.1 ? 300 : 20));
  let s = "";
  for (let i = 0; i < len; i++) {
    const k = r();
    if (k < 0.6) s += String.fromCharCode(32 + Math.floor(r() * 95));
    else if (k < 0.8) s += String.fromCharCode(0x80 + Math.floor(r() * 0x780));
    else if (k < 0.9) {
      s += String.fromCodePoint(0x10000 + Math.floor(r() * 0xfffff));
    } else s += String.fromCharCode(0xd800 + Math.floor(r() * 0x800)); // lone surrogate
  }
  return s;
}

function randomScalar(r: () => number): unknown {
  const k = r();
  if (k < 0.05) return null;
  if (k < 0.08) return undefined;
  if (k < 0.12) return r() < 0.5;
  if (k < 0.3) {
    const e = INT_EDGES[Math.floor(r() * INT_EDGES.length)];
    return e >= BigInt(Number.MIN_SAFE_INTEGER) &&
        e <= BigInt(Number.MAX_SAFE_INTEGER) && r() < 0.7
      ? Number(e)
      : e;
  }
  if (k < 0.36) {
    // bigints of hundreds of digits
    let digits = String(1 + Math.floor(r() * 9));
    const n = 50 + Math.floor(r() * 400);
    for (let i = 0; i < n; i++) digits += String(Math.floor(r() * 10));
    return (r() < 0.5 ? -1n : 1n) * BigInt(digits);
  }
  if (k < 0.42) return SPECIAL_FLOATS[Math.floor(r() * SPECIAL_FLOATS.length)];
  if (k < 0.5) return (r() - 0.5) * 10 ** Math.floor(r() * 40 - 20);
  if (k < 0.55) return Math.floor((r() - 0.5) * 2 ** 40);
  if (k < 0.6) {
    const b = new Uint8Array(Math.floor(r() * 40));
    for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
    return b;
  }
  if (k < 0.62) return new Date(Math.floor(r() * 2e12));
  if (k < 0.63) return new PickleFloat(Math.floor(r() * 100));
  return randomString(r);
}

function randomHashable(r: () => number): unknown {
  const k = r();
  if (k < 0.5) return randomString(r);
  // JS Maps tell 1, 1n and true apart; Python dicts do not: keep key types apart.
  if (k < 0.8) return Math.floor((r() - 0.5) * 2 ** 40);
  return tuple(randomString(r), Math.floor(r() * 1000));
}

function randomValue(r: () => number, depth: number, pool: object[]): unknown {
  if (depth > 4 || r() < 0.35) return randomScalar(r);
  if (pool.length > 0 && r() < 0.08) return pool[Math.floor(r() * pool.length)]; // shared
  const n = Math.floor(r() * (depth === 0 && r() < 0.05 ? 1500 : 6));
  const k = r();
  let v: object;
  if (k < 0.3) {
    const a: unknown[] = [];
    pool.push(a);
    for (let i = 0; i < n; i++) a.push(randomValue(r, depth + 1, pool));
    if (r() < 0.1) a.push(a); // cycle
    v = a;
  } else if (k < 0.45) {
    const items: unknown[] = [];
    for (let i = 0; i < n; i++) items.push(randomValue(r, depth + 1, pool));
    v = tuple(...items);
    pool.push(v);
  } else if (k < 0.75) {
    const o: Record<string, unknown> = {};
    pool.push(o);
    for (let i = 0; i < n; i++) {
      o[randomString(r)] = randomValue(r, depth + 1, pool);
    }
    if (r() < 0.1) o.self = o;
    v = o;
  } else if (k < 0.92) {
    const m = new Map<unknown, unknown>();
    pool.push(m);
    for (let i = 0; i < n; i++) {
      m.set(randomHashable(r), randomValue(r, depth + 1, pool));
    }
    v = m;
  } else {
    const s = new Set<unknown>();
    for (let i = 0; i < n; i++) s.add(randomString(r));
    v = s;
  }
  return v;
}

/** Set descriptions are sorted by Python's json.dumps; compare sets order-free. */
function normalise(d: unknown): unknown {
  if (!Array.isArray(d)) return d;
  if (d[0] === "S") {
    const items = (d[2] as unknown[]).map(normalise);
    return ["S", d[1], items.sort((a, b) => cmp(pyJson(a), pyJson(b)))];
  }
  return d.map(normalise);
}

Deno.test("CPython loads 1,200 seeded random values as we meant them", async () => {
  const r = prng(20261124);
  const values: unknown[] = [];
  for (let i = 0; i < 1200; i++) values.push(randomValue(r, 0, []));
  const judged = await judge(values);
  equal(judged.length, values.length);
  let containers = 0;
  for (let i = 0; i < values.length; i++) {
    const j = judged[i];
    equal(j.error, undefined, `value ${i}: CPython failed: ${j.error}`);
    const want = normalise(describe(values[i], new Map()));
    if (JSON.stringify(normalise(j.v)) !== JSON.stringify(want)) {
      const a = JSON.stringify(normalise(j.v)), b = JSON.stringify(want);
      let d = 0;
      while (a[d] === b[d]) d++;
      console.log("got ", a.slice(d - 200, d + 200));
      console.log("want", b.slice(d - 200, d + 200));
    }
    deepEqual(normalise(j.v), want, `value ${i}`);
    if (typeof values[i] === "object" && values[i] !== null) containers++;
  }
  ok(containers > 300, `only ${containers} containers generated`);
});

Deno.test("integers at every opcode boundary: loads equal, bytes equal CPython's own", async () => {
  const values: unknown[] = [...INT_EDGES];
  for (const e of INT_EDGES) {
    if (
      e >= BigInt(Number.MIN_SAFE_INTEGER) &&
      e <= BigInt(Number.MAX_SAFE_INTEGER)
    ) {
      values.push(Number(e));
    }
  }
  const judged = await judge(values);
  for (let i = 0; i < values.length; i++) {
    deepEqual(judged[i].v, ["i", String(values[i])]);
    equal(hex(dumps(values[i])), judged[i].cpython, `bytes of ${values[i]}`);
  }
});

Deno.test("special floats, strings, bytes, Date, Error, Set, tuple, undefined", async () => {
  const err = new Error("outer", { cause: new TypeError("inner") });
  const values: unknown[] = [
    ...SPECIAL_FLOATS,
    ...STRINGS,
    new Uint8Array(),
    new Uint8Array([0, 127, 128, 255]),
    new Date(1700000000123),
    err,
    new Set(["a", "b"]),
    new Set(),
    tuple(),
    tuple(1),
    tuple(1, 2, 3, 4, 5),
    undefined,
    Symbol("s"),
    () => 1,
    new URL("https://example.com/x"),
    Object.assign(Object.create(null), { nullProto: true }),
  ];
  const judged = await judge(values);
  for (let i = 0; i < values.length; i++) {
    equal(judged[i].error, undefined, String(judged[i].error));
    deepEqual(
      normalise(judged[i].v),
      normalise(describe(values[i], new Map())),
      `value ${i}`,
    );
  }
  ok(formatError(err).includes("Caused by: TypeError: inner"));
});

Deno.test("shared and cyclic graphs come back as the same graph", async () => {
  const shared = { k: 1 };
  const list: unknown[] = [shared, shared];
  list.push(list);
  const t = tuple(list, shared); // tuple inside a cycle
  list.push(t);
  const m = new Map<unknown, unknown>([["self", null]]);
  m.set("self", m);
  const judged = await judge([list, m, [t, t]]);
  deepEqual(judged[0].v, describe(list, new Map()));
  deepEqual(judged[1].v, ["d", 0, [[["s", "self"], ["r", 0]]]]);
  deepEqual(judged[2].v, describe([t, t], new Map()));
});

Deno.test("more than 256 memo entries and 1000-item batches", async () => {
  const objs = Array.from({ length: 3000 }, (_, i) => ({ i }));
  const v = [...objs, ...objs];
  const [j] = await judge([v]);
  deepEqual(j.v, describe(v, new Map()));
});

Deno.test("100,000-deep nesting is encoded without overflowing the stack", async () => {
  const depth = 100_000;
  let v: unknown = "leaf";
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { d: v };
  const bytes = dumps(v);
  const script = `
import pickle, sys
v = pickle.loads(sys.stdin.buffer.read())
n = 0
while not isinstance(v, str):
    v = v[0] if isinstance(v, list) else v["d"]
    n += 1
print(n, v)
`;
  const out = await runPython(["-c", script], bytes);
  equal(out.trim(), `${depth} leaf`);
});

Deno.test("a value whose getter throws is refused with that error", () => {
  const bad = {
    get boom() {
      throw new Error("getter failed");
    },
  };
  throws(() => dumps({ bad }), /getter failed/);
  // the shared writer is still usable afterwards
  deepEqual(dumps(1), new Uint8Array([0x80, 2, 0x4b, 1, 0x2e]));
});
