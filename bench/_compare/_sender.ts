// Runs one sender of bench/compare.ts or bench/socket_compare.ts as its own
// process and reads the JSON line it prints last.

/**
 * Runs `command`, killing it after `timeoutMs`; returns the JSON of the
 * last line it printed. Throws with `label`, the exit code and the end of
 * its stderr when there is none.
 */
export async function runJsonProcess<T>(
  command: string[],
  label: string,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<T> {
  const [cmd, ...args] = command;
  const child = new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop();
  try {
    return JSON.parse(text ?? "");
  } catch {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n")
      .slice(-3).join(" | ");
    throw new Error(`${label} failed (exit ${out.code}): ${err}`);
  }
}
