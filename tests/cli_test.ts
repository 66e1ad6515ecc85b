// The CLI as a user runs it: `cli.ts listen` and `cli.ts send` as separate
// processes with only --allow-net, plus `send` into CPython's receiver.
import { equal, match, ok } from "node:assert/strict";
import { freePort, PyReceiver } from "./_receiver.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;

/** `cli.ts listen ...` in the background; resolves once it listens. */
async function startListen(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", CLI, "listen", "--port", "0", ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  let port = 0;
  let stderr = "";
  let listening!: () => void;
  const ready = new Promise<void>((r) => listening = r);
  (async () => {
    for await (
      const chunk of child.stderr.pipeThrough(new TextDecoderStream())
    ) {
      stderr += chunk;
      const m = /listening on tcp 127\.0\.0\.1:(\d+)/.exec(stderr);
      if (m && port === 0) {
        port = Number(m[1]);
        listening();
      }
    }
  })();
  (async () => {
    let buf = "";
    for await (
      const chunk of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        lines.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    }
  })();
  await Promise.race([
    ready,
    child.status.then(() => {
      throw new Error(`listen exited: ${stderr}`);
    }),
  ]);
  return {
    port,
    lines,
    async stop() {
      child.kill("SIGTERM");
      return (await child.status).code;
    },
  };
}

async function send(args: string[], stdin?: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", CLI, "send", ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

async function until(cond: () => boolean, ms = 10_000) {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("cli: send -> listen --json, with --level filtering", async () => {
  const rx = await startListen(["--json", "--level", "warning"]);
  try {
    const port = String(rx.port);
    equal(
      (await send(["--port", port, "--level", "INFO", "not shown"])).code,
      0,
    );
    equal(
      (await send([
        "--port",
        port,
        "--level",
        "ERROR",
        "--name",
        "ops.disk",
        "disk",
        "full",
      ])).code,
      0,
    );
    equal(
      (await send(
        ["--port", port, "--level", "WARNING"],
        "line one\nline two\n",
      )).code,
      0,
    );
    await until(() => rx.lines.length >= 4);
    equal(rx.lines.length, 4);
    const [a, b, c, d] = rx.lines.map((l) => JSON.parse(l));
    equal(a.name, "ops.disk");
    equal(a.levelname, "ERROR");
    equal(a.msg, "disk");
    equal(b.msg, "full");
    equal(c.msg, "line one");
    equal(d.msg, "line two");
    equal(d.levelname, "WARNING");
    equal(typeof a.created, "number");
  } finally {
    equal(await rx.stop(), 0, "listen exits 0 on SIGTERM");
  }
});

Deno.test("cli: listen prints human lines", async () => {
  const rx = await startListen([]);
  try {
    equal(
      (await send([
        "--port",
        String(rx.port),
        "--level",
        "WARNING",
        "--name",
        "app",
        "hello",
      ])).code,
      0,
    );
    await until(() => rx.lines.length >= 1);
    match(
      rx.lines[0],
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} WARNING {2}app: hello$/,
    );
  } finally {
    await rx.stop();
  }
});

Deno.test("cli: send speaks CPython's wire format; exits 1 when nobody listens", async () => {
  const py = await PyReceiver.start("tcp");
  try {
    equal(
      (await send([
        "--port",
        String(py.port),
        "--level",
        "CRITICAL",
        "from the CLI",
      ])).code,
      0,
    );
    await py.waitFor(1);
    equal(py.records[0].msg, "from the CLI");
    equal(py.records[0].levelname, "CRITICAL");
    equal(py.records[0].name, "pysocklog");
  } finally {
    await py.stop();
  }
  const down = await send(["--port", String(freePort()), "lost"]);
  equal(down.code, 1);
  ok(down.stderr.includes("1 of 1 records not delivered"), down.stderr);
  const bad = await send(["--level", "LOUD", "x"]);
  equal(bad.code, 2);
});
