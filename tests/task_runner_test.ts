// The runner behind `deno task test`, `check` and CI's doc lint
// (tests/_task.ts): where @std/log does not resolve it leaves out the
// ./std-log entry alone, with one line saying so, and passes; where it
// resolves (PYSOCKLOG_IMPORT_MAP given), that entry is linted too.
import { equal, match } from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

async function runner(
  mode: string,
  importMap: string | undefined,
): Promise<{ code: number; out: string; err: string }> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tests/_task.ts", mode],
    cwd: ROOT,
    env: importMap === undefined
      ? env
      : { ...env, PYSOCKLOG_IMPORT_MAP: importMap },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return {
    code: out.code,
    out: text.decode(out.stdout),
    err: text.decode(out.stderr),
  };
}

Deno.test("task runner: @std/log unresolvable leaves out ./std-log alone, with one SKIP line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pysocklog-task-" });
  try {
    const map = `${dir}/map.json`;
    await Deno.writeTextFile(
      map,
      JSON.stringify({ imports: { "@std/log": "./missing/mod.ts" } }),
    );
    const r = await runner("doc", map);
    equal(r.code, 0, r.err);
    const skips = r.out.split("\n").filter((l) => l.startsWith("SKIP"));
    equal(skips.length, 1, r.out);
    match(
      skips[0],
      /^SKIP \.\/std-log \(std_log\.ts\): @std\/log does not resolve/,
    );
    match(r.err, /Checked 4 files/, "the other four entries are linted");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "task runner: with PYSOCKLOG_IMPORT_MAP, ./std-log is linted with the others",
  // Without a map there is nothing to lint it with: reported as ignored.
  ignore: Deno.env.get("PYSOCKLOG_IMPORT_MAP") === undefined,
}, async () => {
  const given = Deno.env.get("PYSOCKLOG_IMPORT_MAP")!;
  const r = await runner("doc", given);
  equal(r.code, 0, r.err);
  equal(r.out.includes("SKIP"), false, r.out);
  match(r.err, /Checked 5 files/);
});
