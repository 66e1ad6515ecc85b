// The decoder on the LONG4 frame of issue 12: one 16 MB pickle of 1,600
// ints of 10,000 bytes each (CPython's own protocol-2 pickle of them), read
// by our safe `loads` and by CPython's `pickle.loads`, side by side in one
// run: `deno task bench:long4`. Rounds alternate between the two peers;
// prints the median ms of each and the ratio (ours / CPython's; the target
// is at most 10x). Before the linear reader this frame took 27-31 s.
import { loads } from "../mod.ts";
import { median } from "./_env.ts";

const COUNT = 1_600;
const SIZE = 10_000;
const ROUNDS = 5;
const PASSES = 3;

const path = await Deno.makeTempFile({ suffix: ".pickle" });
const ours: number[] = [];
const theirs: number[] = [];
try {
  for (let pass = 0; pass < PASSES; pass++) {
    const out = await new Deno.Command("python3", {
      args: [
        new URL("./_py/long4_cpython.py", import.meta.url).pathname,
        path,
        String(COUNT),
        String(SIZE),
        String(ROUNDS),
      ],
      stdout: "piped",
    }).output();
    if (!out.success) throw new Error("python3 failed");
    theirs.push(...JSON.parse(new TextDecoder().decode(out.stdout)));
    const body = await Deno.readFile(path);
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = performance.now();
      const v = loads(body) as unknown[];
      ours.push(performance.now() - t0);
      if (v.length !== COUNT) throw new Error("wrong length");
    }
  }
} finally {
  await Deno.remove(path);
}
const size = COUNT * SIZE;
console.log(
  `LONG4 frame (${COUNT} ints of ${SIZE} bytes, ${
    (size / 1e6).toFixed(0)
  } MB), median of ${PASSES * ROUNDS}`,
);
console.log(`ours loads      ${median(ours).toFixed(1)} ms`);
console.log(`CPython loads   ${median(theirs).toFixed(1)} ms`);
console.log(`ratio           ${(median(ours) / median(theirs)).toFixed(2)}x`);
