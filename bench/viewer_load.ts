// The viewer's page under load, in a real headless Chromium: `deno task
// bench:viewer` (writes bench/results/viewer_load.md).
//
// Our SocketHandler in its own process (default options, a caller that
// never awaits) sends 10,000 varied records/s for 10 s from 12 loggers to
// `pysocklog view`'s server while a click toggles a logger branch 8 times
// (each refilters the 20,000 records kept), then the page is scrolled back
// with the wheel; tests/_viewer_load.ts drives the page, the same code as
// tests/viewer_test.ts's load step (which checks only what does not depend
// on speed). Figures are medians of --runs runs, with their range. There is
// no peer to run beside it: cutelog needs PyQt, which is not installed here.
//
// usage: viewer_load.ts [--runs N] [--rate R] [--seconds S] [--clicks C]
import { parseArgs } from "node:util";
import { Browser, findChromium } from "../tests/_browser/cdp.ts";
import {
  type LoadResult,
  quantile,
  runViewerLoad,
  SAMPLE_AT_MS,
} from "../tests/_viewer_load.ts";
import { commit, cpuModel, loadAverage, median } from "./_env.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "3" },
    rate: { type: "string", default: "10000" },
    seconds: { type: "string", default: "10" },
    clicks: { type: "string", default: "8" },
  },
});
const [runs, rate, seconds, clicks] = [
  values.runs,
  values.rate,
  values.seconds,
  values.clicks,
].map(Number);
for (const [name, n] of Object.entries({ runs, rate, seconds, clicks })) {
  if (!Number.isSafeInteger(n) || n < 1) {
    console.error(`viewer_load: --${name} must be a positive integer`);
    Deno.exit(2);
  }
}
const chromium = findChromium();
if (chromium === null) {
  console.error(
    "viewer_load: no chromium found (apt-get install chromium, or set PYSOCKLOG_CHROMIUM)",
  );
  Deno.exit(1);
}

const MB = 2 ** 20;
const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });

/** One run's figures, by row of the table. */
function figures(r: LoadResult): Record<string, number> {
  const sum = r.longTasks.reduce((a, b) => a + b, 0);
  return {
    received: Number(r.status.received),
    lost: Number(r.status.lost),
    keptAtSample: r.keptAtSample,
    keptEnd: Number(r.status.kept),
    frameMedian: quantile(r.frames, 0.5),
    frameP95: quantile(r.frames, 0.95),
    longCount: r.longTasks.length,
    longTotal: sum,
    longMax: Math.max(0, ...r.longTasks),
    clickMax: Math.max(0, ...r.clickDurations),
    heapEmpty: r.heapEmpty / MB,
    heapAtSample: r.heapAtSample / MB,
    heapEnd: r.heapEnd / MB,
    domNodes: r.domNodes,
  };
}

const results: Record<string, number>[] = [];
const loads: string[] = [loadAverage()];
const browser = await Browser.launch(chromium);
try {
  for (let i = 0; i < runs; i++) {
    const f = figures(await runViewerLoad(browser, { rate, seconds, clicks }));
    console.error(`run ${i + 1}/${runs}: ${JSON.stringify(f)}`);
    results.push(f);
    loads.push(loadAverage());
  }
} finally {
  await browser.close();
}

const col = (key: string) => results.map((f) => f[key]);
const med = (key: string) => median(col(key));
/** "median" and "min-max" cells for a row, in `digits` decimals. */
function cells(key: string, digits = 0, unit = ""): [string, string] {
  const xs = col(key);
  const lo = fmt(Math.min(...xs), digits), hi = fmt(Math.max(...xs), digits);
  return [
    `${fmt(med(key), digits)}${unit}`,
    `${lo === hi ? lo : `${lo}-${hi}`}${unit}`,
  ];
}
function pair(a: string, b: string, digits = 0, unit = ""): [string, string] {
  const [ma, ra] = cells(a, digits), [mb, rb] = cells(b, digits);
  return [`${ma} / ${mb}${unit}`, `${ra} / ${rb}${unit}`];
}
const total = rate * seconds;
const s = `${fmt(SAMPLE_AT_MS / 1000)} s`;
const rows: [string, [string, string]][] = [
  [
    `records received / counted lost, of ${fmt(total)}`,
    pair("received", "lost"),
  ],
  [
    `records kept by the page, at ${s} / at the end`,
    pair("keptAtSample", "keptEnd"),
  ],
  ["frame interval, median / p95", pair("frameMedian", "frameP95", 1, " ms")],
  ["long tasks (> 50 ms): count", cells("longCount")],
  [`long tasks: total / longest`, pair("longTotal", "longMax", 0, " ms")],
  [`click to next paint, slowest of ${clicks}`, cells("clickMax", 0, " ms")],
  [`JS heap after GC: empty page`, cells("heapEmpty", 1, " MB")],
  [
    `JS heap after GC: at ${s} / at the end`,
    pair("heapAtSample", "heapEnd", 1, " MB"),
  ],
  ["DOM elements (rows drawn only when in view)", cells("domNodes")],
];
const head = `${fmt(rate)} records/s for ${seconds} s`;
const w0 = Math.max(head.length, ...rows.map(([k]) => k.length));
const w1 = Math.max(
  `median of ${runs}`.length,
  ...rows.map(([, [m]]) => m.length),
);
const w2 = Math.max("range".length, ...rows.map(([, [, r]]) => r.length));
const line = (a: string, b: string, c: string) =>
  `| ${a.padEnd(w0)} | ${b.padEnd(w1)} | ${c.padEnd(w2)} |`;
const table = [
  line(head, `median of ${runs}`, "range"),
  `| ${"-".repeat(w0)} | ${"-".repeat(w1)} | ${"-".repeat(w2)} |`,
  ...rows.map(([k, [m, r]]) => line(k, m, r)),
].join("\n");
console.log(table);

const stamp = new Date().toISOString().slice(0, 16).replace("T", " ");
const md = `# The viewer's page under load

Produced by \`deno task bench:viewer\` (bench/viewer_load.ts) on ${stamp} UTC at
${await commit()}: deno ${Deno.version.deno}, ${chromium}, ${cpuModel}, 2 cores
shared with other work (1-minute load average ${
  loads.join(", ")
} before the first run and
after each).

Our \`SocketHandler\` in its own process (default options, never awaited) sends
${fmt(rate)} varied records/s for ${seconds} s (${
  fmt(total)
} records, 12 loggers) to
\`pysocklog view\`; meanwhile a click toggles a logger branch ${clicks} times (each
refilters the records kept), then the page is scrolled back with the wheel.
Long tasks are the page's main thread busy over 50 ms (the benchmark's own
forced GCs left out); clicks are timed by the Event Timing API from input to
the next paint (only those over 16 ms are reported, so 0 means all were
faster). No peer ran beside it: cutelog, the usual viewer, needs PyQt.

${table}

\`tests/viewer_test.ts\` runs the same load for 5 s and checks only what does
not depend on the machine's speed: every record received or counted lost, the
buffer bound, fewer than 1,000 DOM elements, clicks that take effect.
`;
const out = new URL("./results/viewer_load.md", import.meta.url);
await Deno.mkdir(new URL(".", out), { recursive: true });
await Deno.writeTextFile(out, md);
console.error(`wrote ${out.pathname}`);
