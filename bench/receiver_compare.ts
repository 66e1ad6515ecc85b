// The receiver at the socket level, against CPython's, side by side in one
// run: `deno task bench:receiver` (writes bench/results/receiver_compare.md).
//
// TCP: our listen() (default options), alone and with makeLogRecord on each
// record, vs the logging cookbook's receiver (ThreadingTCPServer, pickle.loads +
// logging.makeLogRecord), each fed real CPython SocketHandler frames of
// 100,000 varied records per sender by 1 and 4 sender processes replaying
// them flat out. Records/s from the first record to the last; median of 5
// runs, systems interleaved.
//
// UDP: CPython DatagramHandler frames at 1k, 5k, 10k and 50k datagrams/s
// for 2 s to our receiver (Deno.listenDatagram, then node:dgram; with
// makeLogRecord; each with --allow-ffi, which raises the socket's receive
// buffer, and without) and to CPython recv loops (the cookbook's: loads +
// makeLogRecord; and recv only); received, and lost as our stats count it
// (stats.dropped + stats.kernelDrops) and as the kernel counts it
// (/proc/net/udp drops). Median of 3 runs, systems interleaved.
//
// usage: receiver_compare.ts [--tcp] [--udp] [--runs N] [--senders 1,4]
// (--udp alone writes bench/results/udp_compare.md)
import { parseArgs } from "node:util";
import { loadAverage, median } from "./_env.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    tcp: { type: "boolean" },
    udp: { type: "boolean" },
    runs: { type: "string" },
    senders: { type: "string" },
  },
});
const both = !values.tcp && !values.udp;
const here = (p: string) => new URL(p, import.meta.url).pathname;
const RECORDS_PER_SENDER = 100_000;
const TCP_RUNS = Number(values.runs ?? 5);
const UDP_RUNS = Math.max(1, Math.min(3, TCP_RUNS));
const UDP_SECONDS = 2;
const UDP_RATES = [1_000, 5_000, 10_000, 50_000];

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A child that prints "PORT n" first; lines after it on demand. */
class Child {
  readonly proc: Deno.ChildProcess;
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buf = "";
  constructor(cmd: string, args: string[]) {
    this.proc = new Deno.Command(cmd, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#reader = this.proc.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
  }
  async line(): Promise<string> {
    while (!this.#buf.includes("\n")) {
      const { value, done } = await this.#reader.read();
      if (done) throw new Error("child exited early");
      this.#buf += value;
    }
    const i = this.#buf.indexOf("\n");
    const l = this.#buf.slice(0, i);
    this.#buf = this.#buf.slice(i + 1);
    return l;
  }
  async port(): Promise<number> {
    const l = await this.line();
    if (!l.startsWith("PORT ")) throw new Error(`child said ${l}`);
    return Number(l.slice(5));
  }
  async say(text: string): Promise<void> {
    const w = this.proc.stdin.getWriter();
    await w.write(new TextEncoder().encode(text + "\n"));
    w.releaseLock();
  }
  async end(): Promise<void> {
    try {
      this.proc.kill("SIGKILL");
    } catch {
      // gone
    }
    await this.proc.status;
  }
}

const lines: string[] = [];
const out = (s = "") => {
  console.log(s);
  lines.push(s);
};
const ver = new TextDecoder().decode(
  (await new Deno.Command("python3", { args: ["--version"], stdout: "piped" })
    .output()).stdout,
).trim();
out("# The receiver at the socket level, against CPython's");
out();
out(
  `Produced by \`deno task bench:receiver\` (bench/receiver_compare.ts) on ${
    new Date().toISOString().slice(0, 16).replace("T", " ")
  } UTC: deno ${Deno.version.deno}, ${ver}, ${navigator.hardwareConcurrency} cores (shared).`,
);

if (both || values.tcp) {
  const frames = await Deno.makeTempFile({ suffix: ".frames" });
  await new Deno.Command("python3", {
    args: [
      here("./_receiver/make_frames.py"),
      String(RECORDS_PER_SENDER),
      frames,
    ],
  }).output();
  const bytes = (await Deno.stat(frames)).size;
  const systems = [
    {
      name: "pysocklog listen() (yields the record dicts)",
      start: (total: number) =>
        new Child(Deno.execPath(), [
          "run",
          "-A",
          here("./_receiver/ours_receiver.ts"),
          String(total),
          "plain",
        ]),
    },
    {
      name: "pysocklog listen() + makeLogRecord",
      start: (total: number) =>
        new Child(Deno.execPath(), [
          "run",
          "-A",
          here("./_receiver/ours_receiver.ts"),
          String(total),
        ]),
    },
    {
      name: "cookbook receiver (pickle.loads + makeLogRecord)",
      start: (total: number) =>
        new Child("python3", [
          here("./_receiver/cookbook_receiver.py"),
          String(total),
        ]),
    },
  ];
  out();
  out(
    `TCP: ${
      fmt(RECORDS_PER_SENDER)
    } real CPython SocketHandler frames per sender (varied records, ${
      Math.round(bytes / RECORDS_PER_SENDER)
    } bytes each on average), replayed flat out; records/s from the first record to the last, and the receiver process's CPU time (user + system, all threads) per record over that span; median of ${TCP_RUNS} runs, systems interleaved. On a shared, oversubscribed machine the CPU figure is the steadier one.`,
  );
  out();
  out(
    "| senders | system | records/s | × cookbook | CPU µs/record | × cookbook (CPU) |",
  );
  out("|---:|---|---:|---:|---:|---:|");
  for (const senders of (values.senders ?? "1,4").split(",").map(Number)) {
    const total = senders * RECORDS_PER_SENDER;
    const rates: number[][] = systems.map(() => []);
    const cpus: number[][] = systems.map(() => []);
    for (let run = 0; run < TCP_RUNS; run++) {
      for (const [i, sys] of systems.entries()) {
        const child = sys.start(total);
        const port = await child.port();
        const replays = Array.from(
          { length: senders },
          () =>
            new Deno.Command("python3", {
              args: [here("./_receiver/replay.py"), String(port), frames],
            }).output(),
        );
        const [secs, cpu] = (await child.line()).split(" ").map(Number);
        cpus[i].push(cpu * 1e6 / total);
        await Promise.all(replays);
        await child.end();
        rates[i].push(total / secs);
      }
    }
    const cookbook = median(rates[rates.length - 1]);
    const cookbookCpu = median(cpus[cpus.length - 1]);
    for (const [i, sys] of systems.entries()) {
      const m = median(rates[i]);
      const c = median(cpus[i]);
      out(
        `| ${senders} | ${sys.name} | ${fmt(m)} | ${
          (m / cookbook).toFixed(2)
        } | ${c.toFixed(1)} | ${(cookbookCpu / c).toFixed(2)} |`,
      );
    }
  }
  await Deno.remove(frames);
}

/** The kernel's drop count for the UDP socket on 127.0.0.1:port. */
function kernelDrops(port: number): number {
  const want = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const line of Deno.readTextFileSync("/proc/net/udp").split("\n")) {
    const cols = line.trim().split(/\s+/);
    if (cols[1] === want) return Number(cols[cols.length - 1]);
  }
  return NaN;
}

if (both || values.udp) {
  interface UdpRow {
    received: number;
    counted: number | null;
    kernel: number;
  }
  const udpSystems: {
    name: string;
    run: (rate: number) => Promise<UdpRow & { sent: number }>;
  }[] = [];
  const ours = (path: string, flags: string[]) => async (rate: number) => {
    const child = new Child(Deno.execPath(), [
      "run",
      "-A",
      ...flags,
      here("./_receiver/ours_udp.ts"),
      path,
    ]);
    const port = await child.port();
    const sent = await udpSend(port, rate);
    await sleep(300);
    const kernel = kernelDrops(port);
    await child.say("stats");
    const s = JSON.parse(await child.line());
    await child.end();
    return {
      sent,
      received: s.records,
      counted: s.kernelDrops === null ? null : s.dropped + s.kernelDrops,
      kernel,
    };
  };
  udpSystems.push({
    name: "pysocklog, Deno.listenDatagram (--unstable-net), --allow-ffi",
    run: ours("listenDatagram", ["--unstable-net"]),
  });
  udpSystems.push({
    name: "pysocklog, node:dgram, --allow-ffi",
    run: ours("node:dgram", []),
  });
  udpSystems.push({
    name: "pysocklog, Deno.listenDatagram (--unstable-net), no FFI",
    run: ours("listenDatagram", ["--unstable-net", "--deny-ffi"]),
  });
  udpSystems.push({
    name: "pysocklog, node:dgram, no FFI",
    run: ours("node:dgram", ["--deny-ffi"]),
  });
  const cpython = (args: string[]) => async (rate: number) => {
    const child = new Child("python3", [
      here("./_receiver/udp_recv.py"),
      ...args,
    ]);
    const port = await child.port();
    const sent = await udpSend(port, rate);
    await sleep(300);
    const kernel = kernelDrops(port);
    await child.say("stats");
    const received = Number(await child.line());
    await child.end();
    return { sent, received, counted: null, kernel };
  };
  udpSystems.push({
    name: "CPython recv loop (loads + makeLogRecord)",
    run: cpython([]),
  });
  udpSystems.push({
    name: "CPython recv loop, recv only (decodes nothing)",
    run: cpython(["plain"]),
  });
  out();
  out(
    `UDP: CPython DatagramHandler frames of 1,000 varied records at each rate for ${UDP_SECONDS} s; median of ${UDP_RUNS} runs (by records received), systems interleaved. "counted lost": what the receiver's stats say it lost (stats.dropped + stats.kernelDrops; without FFI, Deno 2 reads the kernel's count only under --allow-all); "kernel drops": the kernel's count for the socket (/proc/net/udp), which a CPython recv loop does not read. "--allow-ffi": the receive buffer raised to 4 MiB asked (Linux grants it doubled, capped at net.core.rmem_max = ${
      Deno.readTextFileSync("/proc/sys/net/core/rmem_max").trim()
    } unless the process has CAP_NET_ADMIN); CPython's loops keep the default (net.core.rmem_default = ${
      Deno.readTextFileSync("/proc/sys/net/core/rmem_default").trim()
    }).`,
  );
  out();
  out(
    "| datagrams/s | sent | system | received | received % | counted lost | kernel drops | load avg |",
  );
  out("|---:|---:|---|---:|---:|---:|---:|---:|");
  for (const rate of UDP_RATES) {
    const all: (UdpRow & { sent: number })[][] = udpSystems.map(() => []);
    const loads: number[] = [];
    for (let r = 0; r < UDP_RUNS; r++) {
      for (const [i, sys] of udpSystems.entries()) {
        loads.push(Number(loadAverage()));
        all[i].push(await sys.run(rate));
      }
    }
    for (const [i, sys] of udpSystems.entries()) {
      const runs = all[i];
      runs.sort((a, b) => a.received - b.received);
      const m = runs[Math.floor(runs.length / 2)];
      out(
        `| ${fmt(rate)} | ${fmt(m.sent)} | ${sys.name} | ${fmt(m.received)} | ${
          (100 * m.received / m.sent).toFixed(1)
        } | ${m.counted === null ? "– (not counted)" : fmt(m.counted)} | ${
          fmt(m.kernel)
        } | ${median(loads).toFixed(1)} |`,
      );
    }
  }
}

async function udpSend(port: number, rate: number): Promise<number> {
  const o = await new Deno.Command("python3", {
    args: [
      here("./_receiver/udp_sender.py"),
      String(port),
      String(rate),
      String(UDP_SECONDS),
    ],
    stdout: "piped",
  }).output();
  return Number(new TextDecoder().decode(o.stdout).trim());
}

await Deno.mkdir(here("./results"), { recursive: true });
// --udp alone: its own file, so that the TCP table stays.
await Deno.writeTextFile(
  here(
    values.udp && !values.tcp
      ? "./results/udp_compare.md"
      : "./results/receiver_compare.md",
  ),
  lines.join("\n") + "\n",
);
