// `pysocklog view` command-line defects found by the audit: each case
// failed on the code before its fix (the option silently repeated, an empty
// path listened on an abstract socket, a regular file read "Address already
// in use").
import { equal, match } from "node:assert/strict";

const CLI = new URL("../cli.ts", import.meta.url).pathname;

async function view(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, "view", "--http-port", "0", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(10_000),
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("view CLI: a repeated option, an empty --unix or host is a one-line usage error (exit 2)", async () => {
  const cases: [string[], RegExp][] = [
    [["--port", "0", "--port", "1"], /--port given twice/],
    [["--unix", ""], /--unix needs a socket path/],
    [["--host", ""], /--host needs a host name or address/],
    [["--http-host="], /--http-host needs a host name or address/],
  ];
  for (const [args, expected] of cases) {
    const r = await view(args);
    equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    match(
      r.stderr,
      /^pysocklog view: [^\n]+\(pysocklog view --help for usage\)\n$/,
    );
    match(r.stderr, expected);
  }
});

Deno.test("view CLI: --unix on a regular file is refused by name (exit 1)", async () => {
  const file = await Deno.makeTempFile();
  try {
    const r = await view(["--unix", file]);
    equal(r.code, 1);
    match(
      r.stderr,
      /^pysocklog view: [^\n]*the file exists and is not a socket\n$/,
    );
    equal((await Deno.readFile(file)).length, 0);
  } finally {
    await Deno.remove(file);
  }
});
