// The receiver's per-record cost against CPython's: our safe `loads` (+
// `makeLogRecord` on the dict, as CPython's receiver does) vs CPython's
// `pickle.loads` + `logging.makeLogRecord`, on the same frames, side by side
// in one run: `deno task bench:loads`. Frames, the honest row first: 20,000
// varied CPython SocketHandler frames (bench/_receiver/make_frames.py: 40
// loggers, 200 call sites, extras, some non-ASCII; the receiver bench's),
// each decoded once per round; then CPython's own frame of one typical
// record (protocol 1) and ours of the same record (protocol 2), decoded
// again and again. The peers alternate, PASSES times ROUNDS rounds each, so
// that a busy machine slows both alike. Prints median ns per record and the
// ratio (CPython time / ours: above 1 means we are faster).
import { loads, makeLogRecord, makePickle } from "../mod.ts";
import { median } from "./_env.ts";

const PASSES = 5;
const ROUNDS = 3;
const N = 100_000;
const VARIED = 20_000;

const unhex = (h: string) =>
  new Uint8Array(h.match(/../g)!.map((b) => parseInt(b, 16)));
const hex = (b: Uint8Array) =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

const ourFrame = makePickle(makeLogRecord({
  name: "bench",
  levelno: 20,
  msg: "request %d handled in %.3f ms for user %s",
  args: [1, 1.5, "alice"],
  pathname: "/srv/app/server.py",
  lineno: 120,
  funcName: "handle",
}));

const here = (p: string) => new URL(p, import.meta.url).pathname;
const framesPath = await Deno.makeTempFile({ suffix: ".frames" });
await new Deno.Command("python3", {
  args: [here("./_receiver/make_frames.py"), String(VARIED), framesPath],
}).output();
const framesFile = await Deno.readFile(framesPath);
const varied: Uint8Array[] = [];
for (let at = 0; at < framesFile.length;) {
  const n = new DataView(framesFile.buffer, at, 4).getUint32(0);
  varied.push(framesFile.subarray(at + 4, at + 4 + n));
  at += 4 + n;
}

/** CPython's ns per record over the varied frames, median of ROUNDS. */
async function cpythonVaried(): Promise<number> {
  const out = await new Deno.Command("python3", {
    args: [
      "-c",
      `
import logging, pickle, struct, sys, time
data = open(sys.argv[1], "rb").read()
bodies, at = [], 0
while at < len(data):
    n = struct.unpack(">L", data[at:at + 4])[0]
    bodies.append(data[at + 4:at + 4 + n])
    at += 4 + n
times = []
for _ in range(int(sys.argv[2])):
    t0 = time.perf_counter_ns()
    for b in bodies:
        logging.makeLogRecord(pickle.loads(b))
    times.append((time.perf_counter_ns() - t0) / len(bodies))
times.sort()
print(times[len(times) // 2])
`,
      framesPath,
      String(ROUNDS),
    ],
    stdout: "piped",
  }).output();
  if (!out.success) throw new Error("python3 failed");
  return Number(new TextDecoder().decode(out.stdout).trim());
}

function timeVaried(build: boolean): number {
  const times: number[] = [];
  let sink = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    for (const body of varied) {
      const d = loads(body) as Record<string, unknown>;
      sink += build ? makeLogRecord(d).lineno : (d.lineno as number);
    }
    times.push(((performance.now() - t0) * 1e6) / varied.length);
  }
  if (sink === 0) throw new Error("unreachable");
  return median(times);
}

function time(body: Uint8Array, build: boolean): number {
  const times: number[] = [];
  let sink = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      const d = loads(body) as Record<string, unknown>;
      sink += build ? makeLogRecord(d).lineno : (d.lineno as number);
    }
    times.push(((performance.now() - t0) * 1e6) / N);
  }
  if (sink === 0) throw new Error("unreachable");
  return median(times);
}

async function cpython(): Promise<{ frame1: string; p1: number; p2: number }> {
  const child = new Deno.Command("python3", {
    args: [
      new URL("./_py/loads_cpython.py", import.meta.url).pathname,
      String(ROUNDS),
      String(N),
    ],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(hex(ourFrame)));
  await w.close();
  const out = await child.output();
  if (!out.success) throw new Error("python3 failed");
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

const first = await cpython();
const cpythonFrame = unhex(first.frame1);
const rows: [string, Uint8Array][] = [
  ["CPython's frame (protocol 1)", cpythonFrame.subarray(4)],
  ["our frame (protocol 2)", ourFrame.subarray(4)],
];
for (const [, body] of rows) time(body, true); // warm-up
timeVaried(true);
const variedTimes = {
  bare: [] as number[],
  full: [] as number[],
  cpy: [] as number[],
};
const times = rows.map(() => ({
  bare: [] as number[],
  full: [] as number[],
  cpy: [] as number[],
}));
for (let pass = 0; pass < PASSES; pass++) {
  const py = pass === 0 ? first : await cpython();
  times[0].cpy.push(py.p1);
  times[1].cpy.push(py.p2);
  variedTimes.cpy.push(await cpythonVaried());
  variedTimes.bare.push(timeVaried(false));
  variedTimes.full.push(timeVaried(true));
  for (const [i, [, body]] of rows.entries()) {
    times[i].bare.push(time(body, false));
    times[i].full.push(time(body, true));
  }
}
await Deno.remove(framesPath);
console.log(
  "frame                               | ours loads | ours loads+makeLogRecord | CPython loads+makeLogRecord | ratio",
);
const printRow = (what: string, t: typeof variedTimes) => {
  const bare = median(t.bare);
  const full = median(t.full);
  const cpy = median(t.cpy);
  console.log(
    `${what.padEnd(35)} | ${bare.toFixed(0).padStart(7)} ns | ${
      full.toFixed(0).padStart(21)
    } ns | ${cpy.toFixed(0).padStart(24)} ns | ${(cpy / full).toFixed(2)}x`,
  );
};
printRow(
  `${VARIED.toLocaleString("en-US")} varied CPython frames`,
  variedTimes,
);
for (const [i, [what]] of rows.entries()) printRow(`${what}, again`, times[i]);
