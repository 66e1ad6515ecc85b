// The standard library's values, pickled by CPython (protocols 0 to 5, and
// inside the protocol-1 frame of CPython's own SocketHandler.makePickle),
// read as typed forms field by field; their String() and JSON as Python
// writes them. Also: items of dict and list subclasses kept on inert
// objects, a malformed STRING refused as CPython refuses it.
import { deepEqual, equal, ok, throws } from "node:assert/strict";
import {
  loads,
  PickleDate,
  PickleDateTime,
  PickleDecimal,
  PickleDecodeError,
  PickleGlobal,
  PickleObject,
  PicklePath,
  PickleSet,
  PickleTime,
  PickleTimedelta,
  PickleTimezone,
  PickleUUID,
} from "../mod.ts";
import { prng, pyScript, runPython } from "./_helpers.ts";

const unhex = (h: string) =>
  new Uint8Array(h.match(/../g)?.map((b) => parseInt(b, 16)) ?? []);

interface TzFields {
  offset: [number, number, number];
  str: string;
}

interface Case {
  name: string;
  kind: string;
  // deno-lint-ignore no-explicit-any
  fields: any;
  str: string;
  json: string;
  p: string[];
}

interface Corpus {
  cases: Case[];
  frame: string;
  extra: Record<string, string>;
}

const corpus: Corpus = JSON.parse(
  await runPython([pyScript("stdlib_corpus.py")]),
);

function checkTz(tz: PickleTimezone | null, want: TzFields | null, at: string) {
  if (want === null) return equal(tz, null, at);
  ok(tz instanceof PickleTimezone, at);
  deepEqual(
    [tz.offset.days, tz.offset.seconds, tz.offset.microseconds],
    want.offset,
    at,
  );
  equal(String(tz), want.str, at);
}

/** Checks one decoded value against its case, field by field. */
function check(value: unknown, c: Case, at: string): void {
  const f = c.fields;
  switch (c.kind) {
    case "date":
      ok(value instanceof PickleDate, at);
      deepEqual([value.year, value.month, value.day], [f.year, f.month, f.day]);
      break;
    case "datetime":
      ok(value instanceof PickleDateTime, at);
      deepEqual(
        [
          value.year,
          value.month,
          value.day,
          value.hour,
          value.minute,
          value.second,
          value.microsecond,
          value.fold,
        ],
        [
          f.year,
          f.month,
          f.day,
          f.hour,
          f.minute,
          f.second,
          f.microsecond,
          // Protocols below 4 do not carry fold (CPython writes it only then).
          at.endsWith("protocol 4") || at.endsWith("protocol 5") ? f.fold : 0,
        ],
        at,
      );
      checkTz(value.tzinfo, f.tz, at);
      if (f.epoch_ms !== null) equal(value.toDate().getTime(), f.epoch_ms, at);
      break;
    case "time":
      ok(value instanceof PickleTime, at);
      deepEqual(
        [value.hour, value.minute, value.second, value.microsecond],
        [f.hour, f.minute, f.second, f.microsecond],
        at,
      );
      checkTz(value.tzinfo, f.tz, at);
      break;
    case "timedelta":
      ok(value instanceof PickleTimedelta, at);
      deepEqual(
        [value.days, value.seconds, value.microseconds, value.totalSeconds()],
        [f.days, f.seconds, f.microseconds, f.total],
        at,
      );
      equal(+value, f.total, at);
      break;
    case "timezone":
      checkTz(value as PickleTimezone, f, at);
      break;
    case "decimal":
      ok(value instanceof PickleDecimal, at);
      equal(value.text, f.text, at);
      break;
    case "uuid":
      ok(value instanceof PickleUUID, at);
      equal(value.int, BigInt("0x" + f.hex), at);
      break;
    case "dict": {
      equal(Object.getPrototypeOf(value), Object.prototype, at);
      const v = value as Record<string, unknown>;
      deepEqual(Object.keys(v), f.items.map(([k]: [string]) => k), at);
      for (const [k, x] of f.items) deepEqual(v[k], x, `${at}: ${k}`);
      if (c.name === "OrderedDict") ok(Object.hasOwn(v, "__proto__"), at);
      break;
    }
    case "list":
      ok(Array.isArray(value), at);
      deepEqual(value, f.items, at);
      break;
    case "set":
      ok(value instanceof PickleSet, at);
      equal(value.frozen, f.frozen, at);
      deepEqual([...value], f.items, at);
      break;
    case "path":
      ok(value instanceof PicklePath, at);
      equal(value.className, f.class, at);
      deepEqual(value.parts, f.parts, at);
      break;
    default:
      throw new Error(`unknown kind ${c.kind}`);
  }
  // The text form, where the form has one, and the JSON of Python's loggers.
  if (!["dict", "list", "set"].includes(c.kind)) {
    equal(String(value), c.str, at);
  }
  deepEqual(JSON.parse(JSON.stringify(value)), JSON.parse(c.json), at);
}

Deno.test("stdlib values pickled by CPython with protocols 0-5 read as typed forms, field by field", () => {
  ok(corpus.cases.length >= 45);
  for (const c of corpus.cases) {
    for (let proto = 0; proto <= 5; proto++) {
      check(loads(unhex(c.p[proto])), c, `${c.name}, protocol ${proto}`);
    }
  }
});

Deno.test("stdlib values in extra= of CPython's SocketHandler frame (protocol 1)", () => {
  const frame = unhex(corpus.frame);
  const record = loads(frame.subarray(4)) as Record<string, unknown>;
  equal(record.msg, "with stdlib extras");
  const byName = new Map(corpus.cases.map((c) => [c.name, c]));
  let checked = 0;
  for (const [key, name] of Object.entries(corpus.extra)) {
    const c = byName.get(name)!;
    // Protocol 1: as the protocol-1 pickles above (no fold).
    check(record[key], c, `${name} in a frame, protocol 1`);
    checked++;
  }
  equal(checked, corpus.cases.length);
  // The whole record's JSON holds each value as Python's JSON loggers write it.
  const json = JSON.parse(JSON.stringify(record));
  for (const [key, name] of Object.entries(corpus.extra)) {
    deepEqual(json[key], JSON.parse(byName.get(name)!.json), name);
  }
});

Deno.test("dict and list subclasses only the sender knows keep their items on the inert object", async () => {
  const out = await runPython([
    "-c",
    `
import collections, json, pickle, sys, types, zoneinfo, datetime
class Attrs(dict): pass
class Tags(list): pass
class Od(collections.OrderedDict): pass
app = sys.modules["app"] = types.ModuleType("app")
for c in (Attrs, Tags, Od):
    c.__module__ = "app"
    setattr(app, c.__name__, c)
a = Attrs(user="ann", n=2); a.note = "attr"
try:
    tz = zoneinfo.ZoneInfo("Europe/Paris")
except Exception:  # no tz database on this machine: any other tzinfo will do
    class Paris(datetime.tzinfo):
        def utcoffset(self, dt): return datetime.timedelta(hours=1)
    Paris.__module__ = "app"; app.Paris = Paris; tz = Paris()
values = [a, Tags(["x", "y"]), Od(k=1), {"when": datetime.datetime(2024, 1, 2, tzinfo=tz)}, dict.fromkeys]
print(json.dumps([[pickle.dumps(v, p).hex() for p in range(6)] for v in values]))
`,
  ]);
  const [attrs, tags, od, zoned, method] = JSON.parse(out) as string[][];
  for (let p = 0; p <= 5; p++) {
    const a = loads(unhex(attrs[p]));
    ok(a instanceof PickleObject, `protocol ${p}`);
    equal(String(a.global), "app.Attrs");
    deepEqual(a.dictitems, { user: "ann", n: 2 }, `protocol ${p}`);
    deepEqual(a.state, { note: "attr" }, `protocol ${p}`);
    const t = loads(unhex(tags[p]));
    ok(t instanceof PickleObject);
    deepEqual(t.listitems, ["x", "y"], `protocol ${p}`);
    const o = loads(unhex(od[p]));
    ok(o instanceof PickleObject);
    deepEqual(o.dictitems, { k: 1 }, `protocol ${p}`);
    deepEqual(JSON.parse(JSON.stringify(o)).dictitems, { k: 1 });
    // A datetime whose tzinfo is not a fixed offset stays inert: its offset
    // cannot be known without running the sender's code.
    const z = loads(unhex(zoned[p])) as Record<string, unknown>;
    ok(z.when instanceof PickleObject, `protocol ${p}`);
    equal(String((z.when as PickleObject).global), "datetime.datetime");
    // getattr(dict, "fromkeys") (protocols 0-3) is the global protocol 4
    // names as "dict.fromkeys"; nothing is looked up.
    const m = loads(unhex(method[p]));
    ok(m instanceof PickleGlobal, `protocol ${p}`);
    equal(m.name, "dict.fromkeys");
  }
});

Deno.test("a STRING with a trailing backslash or a short \\x escape fails, as in CPython", async () => {
  const bad = ["S'\\'\n.", "S'\\x4'\n.", "S'ab\\x4g'\n."];
  const cpython = JSON.parse(
    await runPython([
      "-c",
      `
import json, pickle, sys
out = []
for s in json.loads(sys.argv[1]):
    try:
        pickle.loads(s.encode("latin1")); out.append("read")
    except Exception as e:
        out.append(type(e).__name__)
print(json.dumps(out))
`,
      JSON.stringify(bad),
    ]),
  ) as string[];
  for (const [i, s] of bad.entries()) {
    ok(cpython[i] !== "read", `CPython rejects ${JSON.stringify(s)}`);
    throws(
      () => loads(Uint8Array.from(s, (c) => c.charCodeAt(0))),
      PickleDecodeError,
      JSON.stringify(s),
    );
  }
  // What CPython reads, we read the same.
  const good = "S'a\\\\b\\x41\\101\\n\\q'\n.";
  equal(loads(Uint8Array.from(good, (c) => c.charCodeAt(0))), "a\\bAA\n\\q");
});

Deno.test("mutated stdlib pickles: a value or a PickleDecodeError; typed forms always render", () => {
  const rand = prng(1212);
  const seeds = corpus.cases.flatMap((c) => c.p.map(unhex));
  let values = 0;
  let errors = 0;
  for (let i = 0; i < 20_000; i++) {
    const b = Uint8Array.from(seeds[i % seeds.length]);
    for (let e = 1 + Math.floor(rand() * 3); e > 0; e--) {
      b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
    }
    let v: unknown;
    try {
      v = loads(b);
    } catch (error) {
      if (!(error instanceof PickleDecodeError)) throw error;
      errors++;
      continue;
    }
    values++;
    if (v !== null && typeof v === "object" && !(v instanceof Map)) {
      String(v);
      try {
        JSON.stringify(v);
      } catch (error) {
        // A bigint or a cycle is the caller's to render; nothing else throws.
        ok(/BigInt|circular/i.test(String(error)), String(error));
      }
    }
  }
  equal(values + errors, 20_000);
  ok(values > 1000 && errors > 1000, `${values} values, ${errors} errors`);
});
