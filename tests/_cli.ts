// The CLI as a user runs it: `cli.ts` in a child process, with only the
// permissions a user would give it.

export const CLI = new URL("../cli.ts", import.meta.url).pathname;

const NET = ["--allow-net"];

/** Collects a stream's text as lines. */
function collect(
  stream: ReadableStream<Uint8Array>,
  lines: string[],
  onText?: (all: string) => void,
): Promise<void> {
  return (async () => {
    let all = "";
    let buf = "";
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        all += chunk;
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          lines.push(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
        onText?.(all);
      }
    } catch {
      // cancelled
    }
    if (buf !== "") lines.push(buf);
  })();
}

/** A running `cli.ts listen`. */
export interface Listener {
  /** Its TCP port (0 for Unix and UDP). */
  port: number;
  /** Lines of stdout so far. */
  lines: string[];
  /** Lines of stderr so far. */
  errors: string[];
  child: Deno.ChildProcess;
  /** Sends `signal` and returns the exit code, or null when it had to be killed after `ms`. */
  stop(signal?: Deno.Signal, ms?: number): Promise<number | null>;
}

/** `cli.ts listen ...` in the background; resolves once it listens. */
export async function startListen(
  args: string[],
  options: { permissions?: string[]; stallStdout?: boolean } = {},
): Promise<Listener> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...(options.permissions ?? NET), CLI, "listen", ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const lines: string[] = [];
  const errors: string[] = [];
  let port = -1;
  let listening!: () => void;
  const ready = new Promise<void>((r) => listening = r);
  collect(child.stderr, errors, (all) => {
    const m = /listening on (\w+) (.*)\n/.exec(all);
    if (m && port < 0) {
      port = m[1] === "unix" ? 0 : Number(/:(\d+)$/.exec(m[2])![1]);
      listening();
    }
  });
  // With stallStdout nobody reads: after 64 KiB the pipe is full and writes wait.
  if (!options.stallStdout) collect(child.stdout, lines);
  await Promise.race([
    ready,
    child.status.then(() => {
      throw new Error(`listen exited: ${errors.join("\n")}`);
    }),
  ]);
  return {
    port,
    lines,
    errors,
    child,
    async stop(signal: Deno.Signal = "SIGTERM", ms = 5_000) {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<null>((r) => {
        timer = setTimeout(() => r(null), ms);
      });
      const code = await Promise.race([
        child.status.then((s) => s.code),
        late,
      ]);
      clearTimeout(timer);
      if (code === null) {
        child.kill("SIGKILL");
        await child.status;
      }
      return code;
    },
  };
}

/** Longest a `runCli` child may run before it is killed (code -1). */
const RUN_TIMEOUT_MS = 15_000;

/** Runs `cli.ts ARGS` to the end (killed after 15 s: code -1). */
export async function runCli(
  args: string[],
  options: { permissions?: string[]; stdin?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...(options.permissions ?? NET), CLI, ...args],
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin));
    await w.close();
  }
  const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
  const out = await child.output();
  clearTimeout(timer);
  const text = new TextDecoder();
  return {
    code: out.signal === "SIGKILL" ? -1 : out.code,
    stdout: text.decode(out.stdout),
    stderr: text.decode(out.stderr),
  };
}

/** Waits until `cond()` holds or `ms` passed. */
export async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 10));
  }
}
