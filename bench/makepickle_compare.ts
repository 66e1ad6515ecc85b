// makePickle on a typical record against CPython's C pickler, side by side in
// one run: `deno run -A bench/makepickle_compare.ts`. Prints median ns per
// record for each and the ratio (CPython time / ours: above 1 means faster).
import { makeLogRecord, makePickle } from "../mod.ts";

const ROUNDS = 15;
const N = 100_000;

const record = makeLogRecord({
  name: "bench",
  msg: "request 1 handled in 1.500 ms for user alice",
  levelno: 20,
  pathname: "/srv/app/server.ts",
  lineno: 120,
  funcName: "handle",
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timeOurs(): number {
  const times: number[] = [];
  let sink = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    for (let i = 0; i < N; i++) sink += makePickle(record).length;
    times.push(((performance.now() - t0) * 1e6) / N);
  }
  if (sink === 0) throw new Error("unreachable");
  return median(times);
}

async function timeCPython(): Promise<{ dumps2: number; makePickle: number }> {
  const script =
    new URL("./_py/makepickle_cpython.py", import.meta.url).pathname;
  const child = new Deno.Command("python3", {
    args: [script, String(ROUNDS), String(N)],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify(record)));
  await w.close();
  const out = await child.output();
  if (!out.success) throw new Error("python3 failed");
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

timeOurs(); // warm-up
const py = await timeCPython();
const ours = timeOurs();
const frame = makePickle(record);
console.log(
  `record frame: ${frame.length} bytes, ${Object.keys(record).length} keys`,
);
console.log(
  `ours  makePickle(record)         median ${ours.toFixed(0)} ns/record`,
);
console.log(
  `CPython pickle.dumps(d, 2)       median ${py.dumps2.toFixed(0)} ns/record`,
);
console.log(
  `CPython makePickle (dict+dumps)  median ${
    py.makePickle.toFixed(0)
  } ns/record`,
);
console.log(
  `ratio vs pickle.dumps(d, 2): ${(py.dumps2 / ours).toFixed(2)}x faster`,
);
console.log(
  `ratio vs CPython makePickle: ${(py.makePickle / ours).toFixed(2)}x faster`,
);
