// count_receiver.py (a fast CPython receiver: pickle.loads on every frame,
// nothing printed per record) as a child process.
import { pyScript } from "./_helpers.ts";
import { sleep } from "./_receiver.ts";

/** What count_receiver.py counted. */
export interface Counts {
  records: number;
  notices: number;
  dropped: number;
  seq_errors: number;
  seq_back: number;
  bad_notices: number;
  reasons: string[];
  bytes: number;
}

/** count_receiver.py as a child: its port, and its counts on demand. */
export class CountReceiver {
  port = 0;
  /** With printSeqs: every `seq` received so far, as it arrived. */
  readonly seen: number[] = [];
  #child: Deno.ChildProcess;
  #replies: string[] = [];
  #wake: (() => void) | null = null;
  #ended = false;
  #done: Promise<void>;

  private constructor(port: number, printSeqs: boolean) {
    const child = new Deno.Command("python3", {
      args: [
        "-u",
        pyScript("count_receiver.py"),
        String(port),
        ...(printSeqs ? ["--print-seqs"] : []),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#child = child;
    this.#done = (async () => {
      let buf = "";
      for await (
        const chunk of child.stdout.pipeThrough(new TextDecoderStream())
      ) {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.startsWith("S ")) {
            for (const x of line.slice(2).split(",")) this.seen.push(Number(x));
          } else {
            this.#replies.push(line);
            this.#wake?.();
          }
        }
      }
      this.#ended = true;
      this.#wake?.();
    })();
  }

  static async start(port = 0, printSeqs = false): Promise<CountReceiver> {
    const r = new CountReceiver(port, printSeqs);
    r.port = Number((await r.#reply()).split(" ")[1]);
    return r;
  }

  async #reply(): Promise<string> {
    while (this.#replies.length === 0) {
      if (this.#ended) throw new Error("count_receiver.py ended");
      await new Promise<void>((r) => this.#wake = r);
      this.#wake = null;
    }
    return this.#replies.shift()!;
  }

  async counts(): Promise<Counts> {
    const w = this.#child.stdin.getWriter();
    await w.write(new TextEncoder().encode("REPORT\n"));
    w.releaseLock();
    return JSON.parse(await this.#reply());
  }

  /** Waits until `n` records (and notices) arrived, or `ms` passed. */
  async waitFor(n: number, ms = 20_000): Promise<Counts> {
    const end = Date.now() + ms;
    let c = await this.counts();
    while (c.records + c.notices < n && Date.now() < end) {
      await sleep(50);
      c = await this.counts();
    }
    return c;
  }

  /** Sends it a signal (SIGSTOP: it stops reading; SIGCONT: it goes on). */
  signal(sig: Deno.Signal): void {
    this.#child.kill(sig);
  }

  /** Kills it (SIGKILL: what its kernel held is lost) and reads what it printed. */
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // gone
    }
    await this.#child.status;
    await this.#child.stdin.close().catch(() => {});
    await this.#done;
  }
}
