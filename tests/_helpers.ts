// Shared test helpers: run CPython as the judge, seeded randomness, framing.

/** Path of a helper script in tests/_py/. */
export function pyScript(name: string): string {
  return new URL(`./_py/${name}`, import.meta.url).pathname;
}

/** Runs python3 with `args`, feeding `input`; fails loudly on a non-zero exit. */
export async function runPython(
  args: string[],
  input?: Uint8Array | string,
): Promise<string> {
  const child = new Deno.Command("python3", {
    args,
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(
      typeof input === "string" ? new TextEncoder().encode(input) : input,
    );
    await writer.close();
  }
  const out = await child.output();
  const stdout = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `python3 ${args.join(" ")} exited ${out.code}:\n${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  return stdout;
}

/** Concatenates byte arrays, each behind a 4-byte big-endian length. */
export function lengthPrefixed(blobs: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const b of blobs) size += 4 + b.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let pos = 0;
  for (const b of blobs) {
    view.setUint32(pos, b.length);
    out.set(b, pos + 4);
    pos += 4 + b.length;
  }
  return out;
}

/** A small seeded PRNG (mulberry32): the same seed gives the same values. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Hex of bytes. */
export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * The local modules of a worker's module graph, asserting they are all plain
 * JavaScript: a TypeScript module there is type-checked each time a worker
 * starts cold under `deno test` (8 handlers: 5.9 s instead of 0.4 s).
 */
export async function plainJsGraph(worker: URL): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", worker.href],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string; mediaType?: string }[];
  };
  const local = info.modules.filter((m) => m.specifier.startsWith("file:"));
  const typed = local.filter((m) => m.mediaType !== "JavaScript");
  if (typed.length > 0) {
    throw new Error(
      `not plain JavaScript: ${typed.map((m) => m.specifier).join(", ")}`,
    );
  }
  return local.map((m) => m.specifier);
}

/** What {@linkcode runScript} saw of a child program. */
export interface ScriptRun {
  code: number;
  out: string;
  err: string;
  /** Wall time, ms. */
  ms: number;
  /** Whether it was killed for running past its bound. */
  killed: boolean;
}

/**
 * Runs `source` as a child `deno run FLAGS file ARGS`, killed after
 * `killMs`: a program that hangs fails its test instead of freezing it.
 */
export async function runScript(
  source: string,
  { args = [], flags = ["--allow-net"], killMs = 15_000 }: {
    args?: string[];
    flags?: string[];
    killMs?: number;
  } = {},
): Promise<ScriptRun> {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, source);
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...flags, file, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, killMs);
  const out = await child.output();
  clearTimeout(timer);
  await Deno.remove(file);
  const dec = new TextDecoder();
  return {
    code: out.code,
    out: dec.decode(out.stdout),
    err: dec.decode(out.stderr),
    ms: performance.now() - t0,
    killed,
  };
}
