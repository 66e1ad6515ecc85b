// A CPython receiver (tests/_py/receiver.py) run as a child process, and
// small Deno-side peers for the fault tests.
import { pyScript } from "./_helpers.ts";

/** A record as the Python receiver printed it. */
export type PyRecord = Record<string, unknown> & {
  _message: string;
  _types: Record<string, string>;
};

/** A running CPython receiver: its records so far, and how to stop it. */
export class PyReceiver {
  readonly records: PyRecord[] = [];
  stderr = "";
  port = 0;
  #child: Deno.ChildProcess;
  #done: Promise<void>;
  #ready: Promise<void>;

  private constructor(args: string[]) {
    const child = new Deno.Command("python3", {
      args: ["-u", pyScript("receiver.py"), ...args],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    this.#child = child;
    let markReady!: () => void;
    this.#ready = new Promise((r) => markReady = r);
    const lines = child.stdout.pipeThrough(new TextDecoderStream());
    this.#done = (async () => {
      let buf = "";
      for await (const chunk of lines) {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.startsWith("PORT ")) {
            this.port = Number(line.slice(5));
            markReady();
          } else if (line === "READY") {
            markReady();
          } else if (line.length > 0) {
            this.records.push(JSON.parse(line));
          }
        }
      }
    })();
    (async () => {
      for await (
        const chunk of child.stderr.pipeThrough(new TextDecoderStream())
      ) {
        this.stderr += chunk;
      }
    })();
  }

  /** Starts `receiver.py tcp [port]`, `unix PATH` or `udp [port]` and waits until it listens. */
  static async start(
    kind: "tcp" | "unix" | "udp",
    arg?: string | number,
  ): Promise<PyReceiver> {
    const r = new PyReceiver(arg === undefined ? [kind] : [kind, String(arg)]);
    await Promise.race([
      r.#ready,
      r.#child.status.then((s) => {
        throw new Error(`receiver exited ${s.code}: ${r.stderr}`);
      }),
    ]);
    return r;
  }

  /** Waits until `n` records arrived (or `ms` passed). */
  async waitFor(n: number, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (this.records.length < n && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Sends it a signal (SIGSTOP stalls it: it stops reading; SIGCONT resumes it). */
  signal(sig: Deno.Signal): void {
    this.#child.kill(sig);
  }

  /** Stops it: SIGKILL when `hard`, else SIGTERM. */
  async stop(hard = false): Promise<void> {
    try {
      this.#child.kill(hard ? "SIGKILL" : "SIGTERM");
    } catch {
      // already gone
    }
    await this.#child.status;
    await this.#done;
  }
}

/** A port nothing listens on (it was free a moment ago). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Counts frames arriving on accepted connections (a Deno-side sink). */
export class FrameCounter {
  frames = 0;
  bytes = 0;
  readonly listener: Deno.Listener;
  #conns = new Set<Deno.Conn>();
  #done: Promise<void>;

  constructor(listener: Deno.Listener, read = true) {
    this.listener = listener;
    this.#done = (async () => {
      for await (const conn of listener) {
        this.#conns.add(conn);
        if (read) this.#read(conn);
      }
    })().catch(() => {});
  }

  async #read(conn: Deno.Conn): Promise<void> {
    let pending = new Uint8Array(0);
    try {
      for await (const chunk of conn.readable) {
        this.bytes += chunk.length;
        const all = new Uint8Array(pending.length + chunk.length);
        all.set(pending);
        all.set(chunk, pending.length);
        let pos = 0;
        const view = new DataView(all.buffer);
        while (all.length - pos >= 4) {
          const len = view.getUint32(pos);
          if (all.length - pos - 4 < len) break;
          pos += 4 + len;
          this.frames++;
        }
        pending = all.slice(pos);
      }
    } catch {
      // connection reset
    }
  }

  get port(): number {
    return (this.listener.addr as Deno.NetAddr).port;
  }

  close(): void {
    for (const c of this.#conns) {
      try {
        c.close();
      } catch {
        // closed
      }
    }
    try {
      this.listener.close();
    } catch {
      // closed
    }
  }
}

/** Sleeps `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** What tests/_receiver_child.ts reports. */
export interface ChildStatus {
  stats: import("../receiver.ts").ReceiverStats;
  rss: number;
  external: number;
  heapUsed: number;
  clients: Record<
    string,
    { n: number; first: number; last: number; maxGap: number; maxDelay: number }
  >;
}

/** Our receiver in a child process (tests/_receiver_child.ts), to read its RSS. */
export class ReceiverChild {
  port = 0;
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: ReadableStreamDefaultReader<string>;
  #buf = "";

  private constructor(
    options: Record<string, unknown>,
    flags: string[],
    work: number,
    cpu?: number,
  ) {
    const [cmd, pre] = pinned(Deno.execPath(), cpu);
    this.#child = new Deno.Command(cmd, {
      args: [
        ...pre,
        "run",
        "-A",
        "--v8-flags=--expose-gc",
        ...flags,
        new URL("./_receiver_child.ts", import.meta.url).pathname,
        JSON.stringify(options),
        String(work),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#stdin = this.#child.stdin.getWriter();
    this.#lines = this.#child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
  }

  /**
   * Starts a child receiver with these `listen()` options, its consumer
   * spending `work` µs on each record, pinned to `cpu` if given.
   */
  static async start(
    options: Record<string, unknown> = {},
    flags: string[] = [],
    work = 0,
    cpu?: number,
  ): Promise<ReceiverChild> {
    const c = new ReceiverChild(options, flags, work, cpu);
    const first = await c.#line();
    if (!first.startsWith("PORT ")) throw new Error(`child said ${first}`);
    c.port = Number(first.slice(5));
    return c;
  }

  async #line(): Promise<string> {
    while (!this.#buf.includes("\n")) {
      const { value, done } = await this.#lines.read();
      if (done) throw new Error("the receiver child exited");
      this.#buf += value;
    }
    const nl = this.#buf.indexOf("\n");
    const line = this.#buf.slice(0, nl);
    this.#buf = this.#buf.slice(nl + 1);
    return line;
  }

  async #ask(cmd: string): Promise<ChildStatus> {
    await this.#stdin.write(new TextEncoder().encode(cmd + "\n"));
    return JSON.parse(await this.#line());
  }

  /** Its stats, RSS and per-sender arrivals now. */
  status(): Promise<ChildStatus> {
    return this.#ask("status");
  }

  /** As status(), after a full garbage collection. */
  gc(): Promise<ChildStatus> {
    return this.#ask("gc");
  }

  /** Its peak RSS so far, in bytes (Linux VmHWM). */
  peakRss(): number {
    const s = Deno.readTextFileSync(`/proc/${this.#child.pid}/status`);
    return Number(/VmHWM:\s+(\d+) kB/.exec(s)![1]) * 1024;
  }

  /** Ends it. */
  async stop(): Promise<void> {
    await this.#stdin.close().catch(() => {});
    const t = setTimeout(() => this.#child.kill("SIGKILL"), 5_000);
    await this.#child.status;
    clearTimeout(t);
    await this.#lines.cancel().catch(() => {});
  }
}

/** What tests/_py/steady_sender.py reports. */
export interface SenderResult {
  sent: number;
  failures: number;
  connects: number;
  slowest_ms: number;
}

/**
 * Runs CPython's SocketHandler (tests/_py/steady_sender.py) against `port`:
 * records named `name`, one every `intervalMs` (0: flat out) for `seconds`,
 * pinned to `cpu` if given.
 */
export async function pythonSender(
  port: number,
  name: string,
  seconds: number,
  intervalMs: number,
  cpu?: number,
): Promise<SenderResult> {
  const [cmd, pre] = pinned("python3", cpu);
  const out = await new Deno.Command(cmd, {
    args: [
      ...pre,
      new URL("./_py/steady_sender.py", import.meta.url).pathname,
      String(port),
      name,
      String(seconds),
      String(intervalMs),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `steady_sender.py failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** `cmd` run through `taskset -c cpu` when a CPU is given and taskset exists. */
function pinned(cmd: string, cpu?: number): [string, string[]] {
  if (cpu === undefined || !hasTaskset()) return [cmd, []];
  return ["taskset", ["-c", String(cpu), cmd]];
}

let taskset: boolean | undefined;
function hasTaskset(): boolean {
  if (taskset === undefined) {
    try {
      taskset = new Deno.Command("taskset", { args: ["-V"], stdout: "null" })
        .outputSync().success;
    } catch {
      taskset = false;
    }
  }
  return taskset;
}

/** Whether processes can be pinned to one CPU (taskset). */
export function canPin(): boolean {
  return hasTaskset();
}
