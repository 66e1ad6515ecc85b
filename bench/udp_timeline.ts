// Where a UDP receiver loses datagrams: CPython DatagramHandler frames at
// 50,000/s for 2 s (bench/_receiver/udp_sender.py with OUT, which reads the
// socket's line of /proc/net/udp after each 0.5 ms tick) into our receiver
// (listen() + makeLogRecord, bench/_receiver/ours_udp.ts) with and without
// --allow-ffi, and into CPython's plain recv loop, alternated. For each run:
// received %, the kernel's drops by window of the run, the largest backlog in
// the socket's buffer (rx_queue; with --allow-ffi the buffer is large enough
// to show a stall's whole backlog), and the receiver's CPU per datagram.
//
// usage: deno run -A bench/udp_timeline.ts [--runs N] [--rate N] [--only 1,4]
// (--only: the systems to run, by their 0-based place below)
import { parseArgs } from "node:util";
import { loadAverage, median } from "./_env.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "3" },
    rate: { type: "string", default: "50000" },
    only: { type: "string" },
  },
});
const RUNS = Number(values.runs);
const RATE = Number(values.rate);
const SECONDS = 2;
/** Windows of the run (ms since the first send) the drops are counted in. */
const WINDOWS = [0, 50, 250, 1000, Infinity];
/** The default receive buffer: a backlog past it is lost without FFI. */
const DEFAULT_BUFFER = Number(
  Deno.readTextFileSync("/proc/sys/net/core/rmem_default"),
);
/** A backlog this share of the default buffer counts as full (the kernel
 * stops short of it by up to one datagram's room). */
const FULL = 0.95;
const here = (p: string) => new URL(p, import.meta.url).pathname;

const allSystems = [
  {
    name: "listen(), listenDatagram, --allow-ffi",
    cmd: Deno.execPath(),
    args: [
      "run",
      "-A",
      "--unstable-net",
      here("./_receiver/ours_udp.ts"),
      "listenDatagram",
    ],
  },
  {
    name: "listen(), listenDatagram, no FFI",
    cmd: Deno.execPath(),
    args: [
      "run",
      "-A",
      "--deny-ffi",
      "--unstable-net",
      here("./_receiver/ours_udp.ts"),
      "listenDatagram",
    ],
  },
  {
    name: "listen(), node:dgram, --allow-ffi",
    cmd: Deno.execPath(),
    args: ["run", "-A", here("./_receiver/ours_udp.ts"), "node:dgram"],
  },
  {
    name: "listen(), node:dgram, no FFI",
    cmd: Deno.execPath(),
    args: [
      "run",
      "-A",
      "--deny-ffi",
      here("./_receiver/ours_udp.ts"),
      "node:dgram",
    ],
  },
  {
    name: "CPython recv loop (recv only)",
    cmd: "python3",
    args: [here("./_receiver/udp_recv.py"), "plain"],
  },
];

const systems = values.only === undefined
  ? allSystems
  : values.only.split(",").map((i) => allSystems[Number(i)]);

/** user + system CPU of a process, in ms (Linux). */
function cpuMs(pid: number): number {
  const f = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(
    " ",
  );
  return (Number(f[11]) + Number(f[12])) * 10;
}

async function once(sys: (typeof systems)[number]) {
  const child = new Deno.Command(sys.cmd, {
    args: sys.args,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const line = async () => {
    while (!buf.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error("receiver exited");
      buf += value;
    }
    const i = buf.indexOf("\n");
    const l = buf.slice(0, i);
    buf = buf.slice(i + 1);
    return l;
  };
  const port = Number((await line()).slice("PORT ".length));
  const cpu0 = cpuMs(child.pid);
  const timeline = await Deno.makeTempFile();
  const o = await new Deno.Command("python3", {
    args: [
      here("./_receiver/udp_sender.py"),
      String(port),
      String(RATE),
      String(SECONDS),
      timeline,
    ],
    stdout: "piped",
  }).output();
  const sent = Number(new TextDecoder().decode(o.stdout).split(" ")[0]);
  await new Promise((r) => setTimeout(r, 300));
  const cpu = cpuMs(child.pid) - cpu0;
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode("stats\n"));
  w.releaseLock();
  const reply = await line();
  const stats = reply.startsWith("{") ? JSON.parse(reply) : null;
  const received = stats === null ? Number(reply) : stats.records;
  /** Taken from the kernel but dropped at maxBufferedRecords (the consumer was behind). */
  const overflow = stats === null ? 0 : stats.dropped;
  try {
    child.kill("SIGKILL");
  } catch {
    // gone
  }
  await child.status;
  const rows = Deno.readTextFileSync(timeline).trim().split("\n").map((l) =>
    l.split(" ").map(Number)
  );
  await Deno.remove(timeline);
  const drops = WINDOWS.slice(1).map(() => 0);
  let last = 0;
  let peak = 0;
  let peakAt = 0;
  let over = 0;
  let startPeak = 0;
  for (const [t, , queue, d] of rows) {
    drops[WINDOWS.findIndex((x, i) => t >= x && t < WINDOWS[i + 1])] += d -
      last;
    last = d;
    if (queue > peak) [peak, peakAt] = [queue, t];
    if (t < WINDOWS[1] && queue > startPeak) startPeak = queue;
    if (queue >= FULL * DEFAULT_BUFFER) over++;
  }
  return {
    received: received / sent,
    overflow,
    drops,
    peak,
    peakAt,
    startPeak,
    overShare: over / rows.length,
    cpuPer: cpu * 1000 / sent,
  };
}

const pct = (x: number) => (100 * x).toFixed(2) + "%";
console.log(
  `${
    RATE.toLocaleString("en-US")
  } datagrams/s for ${SECONDS} s, ${RUNS} runs alternated; load average ${loadAverage()} at the start`,
);
const results = systems.map(() => [] as Awaited<ReturnType<typeof once>>[]);
for (let r = 0; r < RUNS; r++) {
  for (const [i, sys] of systems.entries()) {
    const x = await once(sys);
    results[i].push(x);
    console.log(
      `${sys.name}: ${pct(x.received)}; drops ${
        x.drops.join(" / ")
      } (0-50 / 50-250 / 250-1000 / 1000+ ms); ${x.overflow} over maxBufferedRecords; largest backlog ${
        Math.round(x.peak / 1024)
      } KiB at ${Math.round(x.peakAt)} ms (${
        Math.round(x.startPeak / 1024)
      } KiB in the first ${WINDOWS[1]} ms); ${
        pct(x.overShare)
      } of ticks with the default buffer's worth queued; ${
        x.cpuPer.toFixed(1)
      } µs CPU/datagram; load ${loadAverage()}`,
    );
  }
}
console.log("\nmedians:");
for (const [i, sys] of systems.entries()) {
  const xs = results[i];
  console.log(
    `${sys.name}: ${
      pct(median(xs.map((x) => x.received)))
    } received; drops in the first 50 ms ${
      median(xs.map((x) => x.drops[0]))
    }; largest backlog ${
      Math.round(median(xs.map((x) => x.peak)) / 1024)
    } KiB (in the first ${WINDOWS[1]} ms: ${
      Math.round(median(xs.map((x) => x.startPeak)) / 1024)
    } KiB); over maxBufferedRecords ${median(xs.map((x) => x.overflow))}; ${
      median(xs.map((x) => x.cpuPer)).toFixed(1)
    } µs CPU/datagram`,
  );
}
