// Writes a corpus category's records as JSON for CPython (toPythonJson of
// bench/_corpus.ts), in a process of its own: toPythonJson runs
// makeLogRecord on every record, and records of thousands of shapes there
// would leave makeLogRecord's code (which the encoder shares) tuned for
// them in the benchmark's process, which no user's handle() does.
//
//   deno run --allow-write bench/_corpus_json.ts CATEGORY SEED SIZE OUT.json
import { type CorpusCategory, makeCorpus, toPythonJson } from "./_corpus.ts";

const [category, seed, size, out] = Deno.args;
if (out === undefined) {
  console.error("usage: _corpus_json.ts CATEGORY SEED SIZE OUT.json");
  Deno.exit(2);
}
await Deno.writeTextFile(
  out,
  toPythonJson(
    makeCorpus({
      category: category as CorpusCategory,
      seed: Number(seed),
      size: Number(size),
    }),
  ),
);
