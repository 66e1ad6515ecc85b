// deno bench -A bench/makepickle_bench.ts (one record, the varied corpus, and
// the cost of one extra of each kind)
import { dumps, makeLogRecord, makePickle } from "../mod.ts";
import { makeCorpus } from "./_corpus.ts";

const record = makeLogRecord({
  name: "bench",
  msg: "request 1 handled in 1.500 ms for user alice",
  levelno: 20,
  pathname: "/srv/app/server.ts",
  lineno: 120,
  funcName: "handle",
});
const withExtras = makeLogRecord({ name: "bench", msg: "with extras" }, {
  user: "alice",
  tags: ["a", "b"],
  ctx: { requestId: "1f2e", ms: 1.5 },
});

Deno.bench("makePickle(complete record)", { baseline: true }, () => {
  makePickle(record);
});
Deno.bench("makePickle(record with extras)", () => {
  makePickle(withExtras);
});
Deno.bench("makePickle(partial record): makeLogRecord + encode", () => {
  makePickle({
    name: "bench",
    levelno: 20,
    msg: "request 1 handled in 1.500 ms for user alice",
  });
});
Deno.bench("dumps(record dict)", () => {
  dumps(record);
});

// The varied corpus, one record per iteration, in turn (bench/_corpus.ts).
const corpus = makeCorpus({ size: 10_000 });
let next = 0;
Deno.bench("makePickle(varied corpus record), one per call", () => {
  makePickle(corpus[next]);
  if (++next === corpus.length) next = 0;
});

// What one extra of each kind costs over none: 100 records from 100 call
// sites, each with one extra of the kind (no extra for "none").
const EXTRA_KINDS: Record<string, unknown> = {
  "none": undefined,
  "small int": 5,
  "int > 32 bits": 2 ** 40,
  "float": 1.5,
  "bool": true,
  "null": null,
  "string": "alice-abc123",
  "bigint": 2n ** 70n,
  "Date": new Date(0),
  "Uint8Array(16)": new Uint8Array(16),
  "array": [1, "a", 0.5],
  "object": { id: "ab", n: 3, ok: true, inner: [1, 2] },
  "Map": new Map<string, unknown>([["k", "v"], ["v", 1]]),
};
for (const [kind, value] of Object.entries(EXTRA_KINDS)) {
  const records = Array.from({ length: 100 }, (_, i) => ({
    name: "app.http.server1",
    levelno: 20,
    pathname: "/srv/app/server.ts",
    lineno: i,
    funcName: "handle",
    msg: "request %d",
    args: [i],
    ...(kind === "none" ? {} : { [`extra${i % 7}`]: value }),
  }));
  let i = 0;
  Deno.bench(`makePickle(partial), one extra: ${kind}`, {
    group: "extras",
    baseline: kind === "none",
  }, () => {
    makePickle(records[i]);
    if (++i === records.length) i = 0;
  });
}
