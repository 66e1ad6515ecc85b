// The CLI's record rendering in-process: what a value becomes in JSON and
// text, and that shared, cyclic, deep, huge and hostile values stay bounded.
import { equal, match, ok, throws } from "node:assert/strict";
import { formatRecord, toJSONLine } from "../cli.ts";
import { tuple } from "../pickle/_types.ts";
import { PickleGlobal, PickleObject } from "../pickle/decode.ts";

Deno.test("render: a shared object's toJSON and keys are taken once per record, and a throwing toJSON is marked", () => {
  let calls = 0;
  const stamp = {
    toJSON() {
      calls++;
      return "2024-01-02T03:04:05";
    },
  };
  const boom = {
    toJSON() {
      throw new Error("boom\nsecond line");
    },
  };
  const line = toJSONLine({ when: Array(1000).fill(stamp), bad: boom });
  equal(calls, 1);
  ok(line.includes('"when":["2024-01-02T03:04:05","2024-01-02T03:04:05",'));
  ok(line.endsWith(',"bad":{"$error":"toJSON failed: boom"}}'), line);
  match(
    formatRecord({ msg: "m", bad: boom }),
    /bad=\{'\$error': 'toJSON failed: boom'\}$/,
  );
  equal(
    toJSONLine({ at: new Date(Date.UTC(2024, 0, 2)) }),
    '{"at":"2024-01-02T00:00:00.000Z"}',
  );
});

Deno.test("render: Python's values in text as repr shows them, and in JSON", () => {
  const record = {
    name: "app",
    msg: "m",
    t: tuple(1, "a"),
    one: tuple(2),
    s: new Set([1]),
    empty: new Set(),
    m: new Map<unknown, unknown>([[tuple(1, 2), "pair"], [3, null]]),
    f: 1.5,
    nan: NaN,
    inf: -Infinity,
    big: 2n ** 70n,
    b: true,
    raw: new Uint8Array([0, 0x27, 0x41, 0xff]),
    quote: "it's",
  };
  match(
    formatRecord(record),
    / app: m t=\(1, 'a'\) one=\(2,\) s=\{1\} empty=set\(\) m=\{\(1, 2\): 'pair', 3: None\} f=1\.5 nan=nan inf=-inf big=1180591620717411303424 b=True raw=b'\\x00\\'A\\xff' quote="it's"$/,
  );
  equal(
    toJSONLine(record),
    '{"name":"app","msg":"m","t":[1,"a"],"one":[2],"s":[1],"empty":[],"m":{"(1, 2)":"pair","3":null},"f":1.5,"nan":"NaN","inf":"-Infinity","big":"1180591620717411303424","b":true,"raw":{"$bytes":"ACdB/w=="},"quote":"it\'s"}',
  );
});

Deno.test("render: nesting past 1,000 levels is cut, without overflowing the stack", () => {
  let deep: unknown = "bottom";
  for (let i = 0; i < 100_000; i++) deep = [deep];
  const json = toJSONLine({ deep });
  ok(json.includes('"…(too deep)"'));
  ok(json.endsWith(',"$truncated":true}'));
  ok(formatRecord({ msg: "m", deep }).includes("…(too deep)"));
});

Deno.test("render: big sets, maps, bytes and keys are cut to the limit and marked", () => {
  const maxChars = 1_000;
  const record = {
    msg: "m",
    set: new Set(Array.from({ length: 100_000 }, (_, i) => i)),
  };
  const json = toJSONLine(record, { maxChars });
  ok(json.length < maxChars + 50, `${json.length}`);
  match(json, /,"…\(\+\d+ items\)"\],"\$truncated":true\}$/);
  const text = formatRecord(record, { maxChars });
  ok(text.length < maxChars + 50, `${text.length}`);
  match(text, /, …\(\+\d+ items\)\}$/);
  const bytes = toJSONLine({ raw: new Uint8Array(100_000) }, { maxChars });
  match(bytes, /^\{"raw":\{"\$bytes":"A+","\$cut":\d+\},"\$truncated":true\}$/);
  const key = toJSONLine({ ["k".repeat(100_000)]: 1 }, { maxChars });
  ok(key.length < maxChars + 50, `${key.length}`);
  JSON.parse(key);
});

Deno.test("render: text mode shows terminal control characters as \\xNN; newlines and tabs stay", () => {
  const record = {
    name: "app\x1b]0;owned\x07",
    msg: "clear\x1b[2J\rover\ttab\nnext \x9b",
    created: 0,
    levelname: "INFO",
  };
  const text = formatRecord(record);
  // deno-lint-ignore no-control-regex
  ok(!/[\x00-\x08\x0b-\x1f\x7f-\x9f]/.test(text), JSON.stringify(text));
  ok(
    text.endsWith(
      " app\\x1b]0;owned\\x07: clear\\x1b[2J\\x0dover\ttab\nnext \\x9b",
    ),
    JSON.stringify(text),
  );
  ok(
    formatRecord(record, { format: "\x1b[1m%(levelname)s\x1b[0m %(message)s" })
      .startsWith("\x1b[1mINFO\x1b[0m clear\\x1b[2J"),
  );
  match(formatRecord({ msg: "m", e: "\x1b" }), / e='\\x1b'$/);
});

Deno.test("render: values whose toJSON gives text (datetime, Decimal, UUID, path forms) show that text", () => {
  class Stamp {
    constructor(readonly text: string) {}
    toJSON() {
      return this.text;
    }
  }
  const when = new Stamp("2024-01-02T03:04:05+00:00");
  const spaced = new Stamp("a b");
  const record = {
    created: 0,
    name: "app",
    msg: "m",
    when,
    spaced,
    list: [when],
  };
  match(
    formatRecord(record),
    / app: m when=2024-01-02T03:04:05\+00:00 spaced='a b' list=\['2024-01-02T03:04:05\+00:00'\]$/,
  );
  equal(
    formatRecord(record, { format: "%(when)s|%(spaced)s" }),
    "2024-01-02T03:04:05+00:00|a b",
  );
  equal(
    toJSONLine({ when, list: [when] }),
    '{"when":"2024-01-02T03:04:05+00:00","list":["2024-01-02T03:04:05+00:00"]}',
  );
});

Deno.test("render: an inert Python call shows as the call in text and by its toJSON in JSON", () => {
  const dec = new PickleObject(new PickleGlobal("decimal", "Decimal"), ["1.5"]);
  match(
    formatRecord({ msg: "m", amount: dec }),
    / amount=decimal\.Decimal\('1\.5'\)$/,
  );
  equal(
    toJSONLine({ amount: dec }),
    '{"amount":{"__global__":"decimal.Decimal","args":["1.5"]}}',
  );
});

Deno.test("render: maxChars and format are checked up front", () => {
  throws(() => toJSONLine({}, { maxChars: 10 }), RangeError);
  throws(() => formatRecord({}, { maxChars: 1.5 }), RangeError);
  throws(() => formatRecord({}, { format: "%(name)q" }), RangeError);
  formatRecord({}, { format: "%(msg)200s" });
  throws(
    () => formatRecord({}, { format: "%(msg)200s", maxChars: 100 }),
    RangeError,
  );
});
