// The record encoder's fast paths (the template, the string and source
// caches, the one-pass read of a partial record, the handler's writeFrame)
// against the reference: the generic encoder's dumps() of the dict CPython's
// SocketHandler.makePickle builds, framed. Byte for byte, over thousands of
// distinct records of the varied corpus (bench/_corpus.ts), every category,
// each with caller info, twice over (the second pass copies cached bytes);
// then CPython decodes a sample.
import { deepEqual, equal } from "node:assert/strict";
import {
  findCaller,
  type LogRecordInit,
  makeLogRecord,
  makePickle,
} from "../mod.ts";
import { handlerFrame, referenceFrame } from "./_frames.ts";
import {
  CORPUS_CATEGORIES,
  type CorpusCategory,
  makeCorpus,
  toPythonJson,
} from "../bench/_corpus.ts";
import { pyScript, runPython } from "./_helpers.ts";

/** Records per category: enough distinct ones to fill many slabs and caches. */
const SIZES: Record<CorpusCategory, number> = {
  "varied": 4000,
  "no-extras": 500,
  "cache-miss": 3000,
  "many-extras": 300,
  "long-text": 40,
  "exceptions": 300,
};
/** Records of each category CPython decodes. */
const JUDGED = 150;

// Caller info as a handler with `caller: true` adds it: from real call sites.
function fromHandle() {
  return findCaller();
}
function fromService() {
  return findCaller();
}
const where = [fromHandle(), fromService(), findCaller()];

function withCaller(records: LogRecordInit[]): LogRecordInit[] {
  return records.map((r, i) => {
    const out = i % 2 === 0 ? { ...r, ...where[(i >> 1) % where.length] } : r;
    // Some give filename or module themselves: not derived from pathname.
    if (i % 7 === 3) return { ...out, filename: "given.py", module: "given" };
    if (i % 11 === 5) return { ...out, module: `m${i % 3}` };
    return out;
  });
}

const corpora = CORPUS_CATEGORIES.map((category) => ({
  category,
  records: withCaller(
    makeCorpus({ category, size: SIZES[category], seed: 11 }),
  ),
}));

/** Records that vary what the encoder keeps runs of: levels, threads, -0. */
const crafted: LogRecordInit[] = [];
for (let i = 0; i < 200; i++) {
  const base: LogRecordInit = {
    name: `crafted.${i % 5}`,
    msg: "crafted %d",
    args: [i],
    created: 1_795_000_000 + i / 7,
  };
  const variants: LogRecordInit[] = [
    { ...base, levelno: 20 },
    { ...base, levelno: 20, levelname: "WARN" }, // WARNING with levelno 20
    { ...base, levelname: "Level 25" },
    { ...base, levelno: -0 }, // a float, not the int 0
    { ...base, levelno: 0 },
    { ...base, levelno: 63 + (i % 3) }, // around the last kept level
    { ...base, levelno: 20.5 },
    { ...base, thread: i % 3 === 0 ? -0 : 0 },
    { ...base, thread: i, threadName: `worker-${i % 4}` },
    { ...base, processName: i % 2 ? "MainProcess" : "Other", process: i % 3 },
    { ...base, taskName: i % 2 ? `task-${i % 3}` : null },
    { ...base, exc_text: i % 2 ? "Traceback: x" : null, stack_info: null },
    { ...base, stack_info: i % 2 ? "Stack (most recent call last)" : null },
    { name: base.name, created: base.created }, // no msg: ""
    { ...base, msg: undefined, args: undefined }, // msg given as undefined: None
    { ...base, msg: null, args: undefined },
    { ...base, msg: "%(user)s is %(age)d", args: [{ user: "ann", age: i }] },
  ];
  crafted.push(...variants);
}
corpora.push({ category: "crafted" as CorpusCategory, records: crafted });

function mismatch(a: Uint8Array, b: Uint8Array): string {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return `lengths ${a.length} and ${b.length}, first difference at byte ${i}`;
}

Deno.test("fast paths write the reference frames byte for byte, every category, twice over", () => {
  for (const { category, records } of corpora) {
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < records.length; i++) {
        const init = records[i];
        const want = referenceFrame(init);
        const paths: [string, Uint8Array][] = [
          ["writeFrame(partial)", handlerFrame(init)],
          ["makePickle(partial)", makePickle(init)],
          ["makePickle(makeLogRecord())", makePickle(makeLogRecord(init))],
        ];
        for (const [path, got] of paths) {
          if (
            got.length !== want.length || !got.every((b, k) => b === want[k])
          ) {
            throw new Error(
              `${category} record ${i}, pass ${pass}: ${path} differs from the reference (${
                mismatch(got, want)
              })`,
            );
          }
        }
      }
    }
  }
});

Deno.test("CPython decodes a sample of the fast path's frames into the same dicts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pysocklog_fastpath_" });
  try {
    for (const { category, records } of corpora) {
      const sample = records.filter((_, i) =>
        i % Math.max(1, Math.floor(records.length / JUDGED)) === 0
      );
      const json = `${dir}/${category}.json`;
      const bin = `${dir}/${category}.bin`;
      await Deno.writeTextFile(json, toPythonJson(sample));
      const frames = sample.map((init) => handlerFrame(init));
      const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
      let at = 0;
      for (const f of frames) {
        all.set(f, at);
        at += f.length;
      }
      await Deno.writeFile(bin, all);
      const verdict = JSON.parse(
        await runPython([pyScript("corpus_judge.py"), json, bin]),
      );
      deepEqual(
        verdict,
        {
          records: sample.length,
          equal: sample.length,
          first: null,
          trailing: 0,
        },
        category,
      );
      equal(sample.length > 0, true);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
