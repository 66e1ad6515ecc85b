// The benchmark corpus: deterministic, as varied as it says, and the same
// records on both sides: CPython's pickle.loads of each of our frames equals
// the dict CPython builds from toPythonJson(), types included.
//   deno test -A bench/corpus_test.ts
import { deepEqual, equal, notDeepEqual, ok } from "node:assert/strict";
import { makePickle } from "../mod.ts";
import {
  CALL_SITES,
  CORPUS_CATEGORIES,
  LOGGERS,
  makeCorpus,
  MANY_EXTRAS,
  toPythonJson,
} from "./_corpus.ts";

const RECORDS = 300;

Deno.test("corpus: the same seed gives the same frames, another seed others", () => {
  const a = makeCorpus({ size: RECORDS, seed: 3 }).map((r) => makePickle(r));
  const b = makeCorpus({ size: RECORDS, seed: 3 }).map((r) => makePickle(r));
  const c = makeCorpus({ size: RECORDS, seed: 4 }).map((r) => makePickle(r));
  deepEqual(a, b);
  notDeepEqual(a, c);
});

Deno.test("corpus: varied as documented", () => {
  const recs = makeCorpus({ size: 10_000 });
  const loggers = new Set(recs.map((r) => r.name));
  const sites = new Set(recs.map((r) => `${r.pathname}:${r.lineno}`));
  equal(loggers.size, LOGGERS);
  ok(sites.size > CALL_SITES * 0.95, `${sites.size} call sites`);
  const errors = recs.filter((r) => r.exc_info instanceof Error).length;
  ok(errors > 100 && errors < 300, `${errors} exceptions`);
  const cjk =
    recs.filter((r) => /[\u4e00-\u9fff]/.test(JSON.stringify([r.msg, r.args])))
      .length;
  ok(cjk > 300 && cjk < 800, `${cjk} with CJK text`);
  const kinds = new Set<string>();
  for (const r of recs) {
    for (const [k, v] of Object.entries(r)) {
      if (k === "args" || k === "exc_info") continue;
      kinds.add(
        v === null
          ? "null"
          : typeof v === "number"
          ? (Number.isInteger(v) ? (v > 2 ** 32 ? "int>32" : "int") : "float")
          : typeof v === "object"
          ? v.constructor.name
          : typeof v,
      );
    }
  }
  for (
    const kind of [
      "int",
      "int>32",
      "float",
      "boolean",
      "null",
      "string",
      "bigint",
      "Array",
      "Object",
      "Map",
      "Date",
      "Uint8Array",
    ]
  ) ok(kinds.has(kind), `no extra of kind ${kind}`);
  const many = makeCorpus({ category: "many-extras", size: 5 });
  for (const r of many) {
    equal(Object.keys(r).filter((k) => k.startsWith("x_")).length, MANY_EXTRAS);
  }
  const miss = makeCorpus({ category: "cache-miss", size: 500 });
  equal(new Set(miss.map((r) => r.name)).size, 500);
});

Deno.test("corpus: CPython decodes our frames to the dicts it loads from toPythonJson", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const args: string[] = [];
    for (const category of CORPUS_CATEGORIES) {
      const recs = makeCorpus({ category, size: RECORDS });
      await Deno.writeTextFile(`${dir}/${category}.json`, toPythonJson(recs));
      const frames = recs.map((r) => makePickle(r));
      const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
      let o = 0;
      for (const f of frames) {
        all.set(f, o);
        o += f.length;
      }
      await Deno.writeFile(`${dir}/${category}.bin`, all);
      args.push(`${category}=${dir}/${category}.json:${dir}/${category}.bin`);
    }
    // With stdin closed, the bench's CPython side only loads and checks.
    const out = await new Deno.Command("python3", {
      args: [
        new URL("./_py/makepickle_cpython.py", import.meta.url).pathname,
        "1",
        ...args,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    ok(out.success, new TextDecoder().decode(out.stderr));
    const info = JSON.parse(new TextDecoder().decode(out.stdout));
    for (const category of CORPUS_CATEGORIES) {
      equal(info[category].records, RECORDS, category);
      equal(info[category].equal, RECORDS, `${category}: records unequal`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
