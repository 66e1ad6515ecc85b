// The receiver's per-record cost against CPython's: our safe `loads` (+
// `makeLogRecord` on the dict, as CPython's receiver does) vs CPython's
// `pickle.loads` + `logging.makeLogRecord`, on the same frames, side by side
// in one run: `deno task bench:loads`. Frames: CPython's own SocketHandler
// frame of a typical record (protocol 1) and ours of the same record
// (protocol 2). Prints median ns per record and the ratio (CPython time /
// ours: above 1 means we are faster).
import { loads, makeLogRecord, makePickle } from "../mod.ts";

const ROUNDS = 15;
const N = 100_000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

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
const py = JSON.parse(new TextDecoder().decode(out.stdout)) as {
  frame1: string;
  p1: number;
  p2: number;
};
const cpythonFrame = unhex(py.frame1);

const rows: [string, Uint8Array, number][] = [
  ["CPython's frame (protocol 1)", cpythonFrame.subarray(4), py.p1],
  ["our frame (protocol 2)", ourFrame.subarray(4), py.p2],
];
for (const [, body] of rows) time(body, true); // warm-up
console.log(
  "frame                         | ours loads | ours loads+makeLogRecord | CPython loads+makeLogRecord | ratio",
);
for (const [what, body, cpy] of rows) {
  const bare = time(body, false);
  const full = time(body, true);
  console.log(
    `${what.padEnd(29)} | ${bare.toFixed(0).padStart(7)} ns | ${
      full.toFixed(0).padStart(21)
    } ns | ${cpy.toFixed(0).padStart(24)} ns | ${(cpy / full).toFixed(2)}x`,
  );
}
