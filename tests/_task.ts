// Copyright the pysocklog authors. MIT license.
// The runner behind `deno task test`, `deno task check` and CI's doc lint:
//
//   deno run -A tests/_task.ts test [files...]   deno test -A --doc
//   deno run -A tests/_task.ts check             deno check, every .ts file
//   deno run -A tests/_task.ts doc               deno doc --lint, every entry
//
// What it adds to the plain commands:
// - PYSOCKLOG_IMPORT_MAP (an import map that resolves @std/log where JSR is
//   out of reach) is honoured. `--import-map` replaces deno.json's
//   `imports` and `scopes`, so the runner merges them with that map into a
//   temporary one (the given map wins a key).
// - The file list is never written by hand: `test` lets `deno test --doc`
//   walk the repository (deno.json `test.exclude` says what is not code:
//   bench results), so every entry, internal module and README example is
//   run; `check` walks the tree itself; `doc` takes deno.json `exports`.
// - Where @std/log does not resolve, the ./std-log entry and what imports
//   it statically are left out, with one line saying so; everything else
//   still runs.

const ROOT = new URL("../", import.meta.url);
const DENO = Deno.execPath();
/** How long the @std/log probe may take (a firewall that drops packets). */
const PROBE_TIMEOUT_MS = 60_000;
/** Files that import @std/log statically. */
const STD_LOG_FILES = ["deps.ts", "std_log.ts", "tests/_std_log_cases.ts"];
/** The std/log test: it prints its own SKIP line when run alone. */
const STD_LOG_TEST = "tests/std_log_test.ts";
/** Folders that hold no code of ours. */
const NOT_CODE = new Set([".git", "node_modules", "bench/results"]);

interface ImportMap {
  imports?: Record<string, string>;
  scopes?: Record<string, Record<string, string>>;
}

/** `map`'s addresses made absolute against `base` (bare ones kept). */
function absolute(map: ImportMap, base: URL): ImportMap {
  const abs = (s: string) =>
    s.startsWith("./") || s.startsWith("../") || s.startsWith("/")
      ? new URL(s, base).href
      : s;
  const entries = (m: Record<string, string> = {}) =>
    Object.fromEntries(Object.entries(m).map(([k, v]) => [abs(k), abs(v)]));
  const scopes: Record<string, Record<string, string>> = {};
  for (const [scope, m] of Object.entries(map.scopes ?? {})) {
    scopes[abs(scope)] = entries(m);
  }
  return { imports: entries(map.imports), scopes };
}

/** deno.json's import map merged with PYSOCKLOG_IMPORT_MAP's, in a temporary file. */
async function mergedImportMap(
  config: ImportMap,
  given: string,
): Promise<string> {
  const from = new URL(
    given,
    new URL(`${Deno.env.get("INIT_CWD") ?? Deno.cwd()}/`, "file:///"),
  );
  const user = absolute(
    JSON.parse(await Deno.readTextFile(from)) as ImportMap,
    from,
  );
  const ours = absolute(config, ROOT);
  const scopes = { ...ours.scopes };
  for (const [scope, m] of Object.entries(user.scopes ?? {})) {
    scopes[scope] = { ...scopes[scope], ...m };
  }
  const path = await Deno.makeTempFile({
    prefix: "pysocklog-import-map-",
    suffix: ".json",
  });
  await Deno.writeTextFile(
    path,
    JSON.stringify({ imports: { ...ours.imports, ...user.imports }, scopes }),
  );
  return path;
}

/** Why @std/log does not resolve with these flags, or null when it does. */
async function stdLogProblem(flags: string[]): Promise<string | null> {
  try {
    const out = await new Deno.Command(DENO, {
      args: ["eval", ...flags, 'import "@std/log";'],
      cwd: ROOT,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      env: { NO_COLOR: "1" },
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    }).output();
    if (out.success) return null;
    const text = new TextDecoder().decode(out.stderr);
    return text.split("\n").find((l) => l.startsWith("error"))?.trim() ??
      `deno eval exited ${out.code}`;
  } catch (error) {
    return `no answer in ${PROBE_TIMEOUT_MS / 1000} s (${error})`;
  }
}

/** Every .ts file of the repository, relative to it, sorted. */
async function sourceFiles(dir = "", out: string[] = []): Promise<string[]> {
  for await (const entry of Deno.readDir(new URL(dir || ".", ROOT))) {
    const rel = dir + entry.name;
    if (NOT_CODE.has(rel)) continue;
    if (entry.isDirectory) await sourceFiles(rel + "/", out);
    else if (entry.isFile && rel.endsWith(".ts")) out.push(rel);
  }
  return out.sort();
}

/**
 * Set for the tests when this runner has printed the one SKIP line for
 * @std/log: test files that also hold std-log cases then leave them out
 * without a line of their own.
 */
const STD_LOG_ANNOUNCED = "PYSOCKLOG_STD_LOG_SKIP_SHOWN";

async function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<number> {
  const { code } = await new Deno.Command(DENO, {
    args,
    env,
    cwd: ROOT,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return code;
}

async function main(mode: string, rest: string[]): Promise<number> {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  ) as ImportMap & { exports: Record<string, string> };
  const given = Deno.env.get("PYSOCKLOG_IMPORT_MAP");
  const mapFile = given ? await mergedImportMap(config, given) : undefined;
  const flags = mapFile ? [`--import-map=${mapFile}`] : [];
  try {
    const problem = await stdLogProblem(flags);
    if (problem !== null) {
      console.log(
        `SKIP ./std-log (std_log.ts): @std/log does not resolve here (${problem}); ` +
          `the other entries are ${mode === "test" ? "tested" : "checked"}. ` +
          `Set PYSOCKLOG_IMPORT_MAP to an import map that maps @std/log.`,
      );
    }
    const without = (files: string[]) =>
      problem === null
        ? files
        : files.filter((f) => !STD_LOG_FILES.includes(f.replace(/^\.\//, "")));
    switch (mode) {
      case "test": {
        const ignore = problem === null
          ? []
          : [`--ignore=${[...STD_LOG_FILES, STD_LOG_TEST].join(",")}`];
        return await run(
          ["test", "-A", "--doc", ...flags, ...ignore, ...rest],
          problem === null ? {} : { [STD_LOG_ANNOUNCED]: "1" },
        );
      }
      case "check":
        return await run([
          "check",
          ...flags,
          ...rest,
          ...without(await sourceFiles()),
        ]);
      case "doc":
        return await run([
          "doc",
          "--lint",
          ...flags,
          ...rest,
          ...without(Object.values(config.exports)),
        ]);
      default:
        console.error(`usage: tests/_task.ts test|check|doc [args...]`);
        return 2;
    }
  } finally {
    if (mapFile) await Deno.remove(mapFile);
  }
}

Deno.exit(await main(Deno.args[0] ?? "", Deno.args.slice(1)));
