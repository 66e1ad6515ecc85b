// Copyright the pysocklog authors. MIT license.
// What every benchmark reports with its figures: the median it takes, the
// commit it measured, and how loaded the machine was.

/** The middle value (the upper one of an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** The commit measured, where git tells it. */
export async function commit(): Promise<string> {
  try {
    const out = await new Deno.Command("git", {
      args: ["log", "-1", "--format=%h %cs"],
      cwd: new URL(".", import.meta.url).pathname,
      stdout: "piped",
      stderr: "null",
    }).output();
    return new TextDecoder().decode(out.stdout).trim() || "unknown commit";
  } catch {
    return "unknown commit";
  }
}

/** The 1-minute load average, where Linux tells it. */
export function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
  } catch {
    return "unknown";
  }
}

/** The CPU's model name, where Linux tells it. */
export const cpuModel: string = (() => {
  try {
    const m = /model name\s*:\s*(.*)/.exec(
      Deno.readTextFileSync("/proc/cpuinfo"),
    );
    return m ? m[1].trim() : "unknown CPU";
  } catch {
    return "unknown CPU";
  }
})();

/** CPython's version, as `python3 --version` prints it. */
export async function pythonVersion(): Promise<string> {
  const out = await new Deno.Command("python3", { args: ["--version"] })
    .output();
  return new TextDecoder().decode(out.stdout).trim();
}

/**
 * The positive integer given as `--name N` on the command line, else
 * `fallback`; a RangeError for anything else.
 */
export function option(name: string, fallback: number): number {
  const at = Deno.args.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const n = Number(Deno.args[at + 1]);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new RangeError(`--${name} takes a positive integer`);
  }
  return n;
}
