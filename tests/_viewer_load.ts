// Drives the viewer under load in a real headless Chromium: our
// SocketHandler in its own process sends RATE varied records/s for SECONDS
// (tests/_browser/load_sender.ts) while the page is clicked as a person
// would, then scrolled back with the wheel. Shared by tests/viewer_test.ts,
// which checks what does not depend on speed, and bench/viewer_load.ts,
// which reports the timings (frames, long tasks, clicks, heap).
import { ok } from "node:assert/strict";
import type { Browser, Page } from "./_browser/cdp.ts";
import { serveViewer, type Viewer } from "../viewer/server.ts";

const LOAD_SENDER = new URL("./_browser/load_sender.ts", import.meta.url)
  .pathname;
/** When the heap and the kept count are first sampled: the buffer is full by then. */
export const SAMPLE_AT_MS = 4_000;
/** Pause between clicks on the logger branch (ms). */
const CLICK_GAP_MS = 400;
/** The logger branch clicked (a third of the load's records are below it). */
const CLICKED_LOGGER = "api";
/** Longest wait for the page to count every record after the sender ends (ms). */
const DRAIN_TIMEOUT_MS = 15_000;

/** A viewer receiving on TCP and UDP port 0, serving on HTTP port 0. */
export function startViewer(
  options: Parameters<typeof serveViewer>[0] = {},
): Promise<Viewer> {
  return serveViewer({
    receivers: [{ transport: "tcp", port: 0 }, { transport: "udp", port: 0 }],
    httpPort: 0,
    ...options,
  });
}

/** The port of the viewer's TCP receiver. */
export function tcpPort(viewer: Viewer): number {
  return (viewer.receivers[0].addr as Deno.NetAddr).port;
}

/** One drawn row of the table. */
export interface Row {
  time: string;
  level: string;
  levelClass: string;
  name: string;
  msg: string;
  src: string;
  from: string;
  x: number;
  y: number;
}

/** The table's drawn rows, top to bottom, with where to click them. */
export function rows(page: Page): Promise<Row[]> {
  return page.eval<Row[]>(`[...document.querySelectorAll("#spacer .row")]
    .filter((r) => !r.hidden)
    .map((r) => {
      const c = [...r.children].map((s) => s.textContent);
      const b = r.getBoundingClientRect();
      return { time: c[0], level: c[1], levelClass: r.children[1].className,
        name: c[2], msg: c[3], src: c[4], from: c[5],
        x: b.left + b.width / 2, y: b.top + b.height / 2 };
    })
    .filter((r) => r.y >= 0)
    .sort((a, b) => a.y - b.y)`);
}

/** The status line's data attributes. */
export type Status = Record<string, string>;

export function pageStatus(page: Page): Promise<Status> {
  return page.eval<Status>(
    `({ ...document.getElementById("status").dataset })`,
  );
}

/** Resolves after the page's next two animation frames (a draw has run). */
export function nextFrames(page: Page): Promise<unknown> {
  return page.eval(
    `new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))`,
  );
}

/** What the load run is. */
export interface LoadOptions {
  /** Records per second sent. */
  rate: number;
  /** Seconds of sending. */
  seconds: number;
  /** Clicks on the logger branch during the run (an even number leaves it on). */
  clicks: number;
}

/** What a load run saw. Times in ms, heap in bytes. */
export interface LoadResult {
  /** Records sent in all (rate × seconds). */
  total: number;
  /** The sender's SocketHandler stats, and how long it took (s). */
  sender: { emitted: number; sent: number; seconds: number };
  /** The viewer's own counts. */
  viewerStats: Viewer["stats"];
  /** The page's status line at the end. */
  status: Status;
  /** Records the page kept at SAMPLE_AT_MS. */
  keptAtSample: number;
  /** After each click: was the branch's box checked, and did a drawn row come from it? */
  clickEffects: { checked: boolean; branchRowsDrawn: boolean }[];
  /** Sequence numbers of the rows drawn after scrolling back with the wheel. */
  scrolledSeqs: number[];
  domNodes: number;
  /** Intervals between animation frames, ascending (the first dropped). */
  frames: number[];
  /** Long task durations (> 50 ms), without those of the run's own forced GCs. */
  longTasks: number[];
  longTasksOfForcedGc: number;
  /** Click durations from input to next paint (Event Timing, those over 16 ms). */
  clickDurations: number[];
  heapEmpty: number;
  heapAtSample: number;
  heapEnd: number;
}

interface Heap {
  usedSize: number;
}

/**
 * The page's JS heap in use after a forced GC (needs HeapProfiler.enable);
 * the page time span of the GC is added to `spans`.
 */
export async function heapAfterGc(
  page: Page,
  spans: [number, number][] = [],
): Promise<number> {
  const start = await page.eval<number>(`performance.now()`);
  await page.send("HeapProfiler.collectGarbage");
  const used = ((await page.send("Runtime.getHeapUsage")) as unknown as Heap)
    .usedSize;
  spans.push([start, await page.eval<number>(`performance.now()`)]);
  return used;
}

/** `q`-quantile of an ascending list. */
export function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Runs the load against a fresh viewer in a new page of `browser`. */
export async function runViewerLoad(
  browser: Browser,
  options: LoadOptions,
): Promise<LoadResult> {
  const { rate, seconds, clicks } = options;
  await using viewer = await startViewer();
  const page = await browser.newPage();
  // Page time spans of the run's own forced GCs (their long tasks are not the page's).
  const gcSpans: [number, number][] = [];
  try {
    await page.send("HeapProfiler.enable");
    await page.goto(viewer.url);
    await page.waitFor(
      `document.getElementById("status").dataset.connected === "true"`,
    );
    const heapEmpty = await heapAfterGc(page, gcSpans);
    // Long tasks (main thread busy > 50 ms) and every frame's interval.
    await page.eval(`window.__perf = { long: [], frames: [] };
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          window.__perf.long.push([e.startTime, e.duration]);
        }
      }).observe({ type: "longtask" });
      (() => { let last = performance.now();
        const tick = (t) => { window.__perf.frames.push(t - last); last = t;
          if (!window.__perf.stop) requestAnimationFrame(tick); };
        requestAnimationFrame(tick); })();`);
    const sender = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        LOAD_SENDER,
        String(tcpPort(viewer)),
        String(rate),
        String(seconds),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    await new Promise((r) => setTimeout(r, SAMPLE_AT_MS));
    const heapAtSample = await heapAfterGc(page, gcSpans);
    const keptAtSample = Number((await pageStatus(page)).kept);
    // A person using the page meanwhile: real clicks on a logger branch
    // (each refilters the records kept), timed by the Event Timing API from
    // input to the next paint.
    await page.eval(`window.__events = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          if (e.name === "click") window.__events.push(e.duration);
        }
      }).observe({ type: "event", durationThreshold: 16, buffered: true });`);
    const box = `#tree li[data-logger="${CLICKED_LOGGER}"] > label > input`;
    const clickEffects: LoadResult["clickEffects"] = [];
    for (let i = 0; i < clicks; i++) {
      await page.click(box);
      await nextFrames(page);
      const checked = await page.eval<boolean>(
        `document.querySelector(${JSON.stringify(box)}).checked`,
      );
      const branchRowsDrawn = (await rows(page)).some((r) =>
        r.name === CLICKED_LOGGER || r.name.startsWith(`${CLICKED_LOGGER}.`)
      );
      clickEffects.push({ checked, branchRowsDrawn });
      await new Promise((r) => setTimeout(r, CLICK_GAP_MS));
    }
    const out = await sender;
    ok(out.success, "load sender failed");
    const sent = JSON.parse(new TextDecoder().decode(out.stdout));
    const total = rate * seconds;
    await page.waitFor(
      `(() => { const d = document.getElementById("status").dataset;
      return Number(d.received) + Number(d.lost) >= ${total}; })()`,
      DRAIN_TIMEOUT_MS,
    );
    const perf = await page.eval<
      { long: [number, number][]; frames: number[] }
    >(`(() => { window.__perf.stop = true; return window.__perf; })()`);
    const clickDurations = await page.eval<number[]>(`window.__events`);
    const heapEnd = await heapAfterGc(page, gcSpans);
    const forced = (start: number) =>
      gcSpans.some(([a, b]) => start >= a - 1 && start <= b + 1);
    const longTasks = perf.long.filter(([start]) => !forced(start))
      .map(([, duration]) => duration);
    const status = await pageStatus(page);
    const domNodes = await page.eval<number>(
      `document.getElementsByTagName("*").length`,
    );
    // Scrolled back with the wheel: which rows are drawn.
    await page.send("Input.dispatchMouseEvent", {
      type: "mouseWheel",
      x: 700,
      y: 300,
      deltaX: 0,
      deltaY: -123_456,
    });
    await page.waitFor(
      `document.getElementById("viewport").scrollTop < 390000`,
    );
    await nextFrames(page);
    const scrolledSeqs = (await rows(page)).map((r) =>
      Number(/^request (\d+) /.exec(r.msg)?.[1])
    );
    return {
      total,
      sender: sent,
      viewerStats: { ...viewer.stats },
      status,
      keptAtSample,
      clickEffects,
      scrolledSeqs,
      domNodes,
      frames: perf.frames.slice(1).sort((a, b) => a - b),
      longTasks,
      longTasksOfForcedGc: perf.long.length - longTasks.length,
      clickDurations,
      heapEmpty,
      heapAtSample,
      heapEnd,
    };
  } finally {
    await page.close();
  }
}
