// The CLI as a user runs it: `cli.ts listen` and `cli.ts send` as separate
// processes with only --allow-net, plus `send` into CPython's receiver and
// CPython's SocketHandler into `listen`.
import { equal, match, ok } from "node:assert/strict";
import { freePort, PyReceiver } from "./_receiver.ts";
import { runCli, startListen, until } from "./_cli.ts";
import { runPython } from "./_helpers.ts";
import dgram from "node:dgram";
import { VERSION } from "../cli/_version.ts";

function send(args: string[], stdin?: string) {
  return runCli(["send", ...args], { stdin });
}

/** Asserts a failure reported as one line, no stack, the given exit code. */
function oneLineError(
  r: { code: number; stderr: string },
  code: number,
  pattern: RegExp,
) {
  equal(r.code, code, r.stderr);
  const lines = r.stderr.trimEnd().split("\n");
  equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  ok(!/^\s+at /m.test(r.stderr), r.stderr);
  match(lines[0], /^pysocklog: /);
  match(lines[0], pattern);
}

Deno.test("cli: send -> listen --json, with --level filtering", async () => {
  const rx = await startListen(["--port", "0", "--json", "--level", "warning"]);
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
    // Lines of a CRLF file lose their \r too, the last one included.
    equal(
      (await send(["--port", port, "--level", "WARNING"], "crlf\r\nlast\r"))
        .code,
      0,
    );
    await until(() => rx.lines.length >= 6);
    equal(rx.lines.length, 6);
    const [a, b, c, d, e, f] = rx.lines.map((l) => JSON.parse(l));
    equal(e.msg, "crlf");
    equal(f.msg, "last");
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
  const rx = await startListen(["--port", "0"]);
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
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING {2}app: hello$/,
    );
  } finally {
    await rx.stop();
  }
});

Deno.test("cli: send speaks CPython's wire format; exits 1 with the port and the reason when nobody listens", async () => {
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
  const port = freePort();
  const [down, lookup, udpLookup] = await Promise.all([
    send(["--port", String(port), "lost"]),
    send(["--host", "no-such-host.invalid", "lost"]),
    send(["--udp", "--host", "no-such-host.invalid", "lost"]),
  ]);
  oneLineError(
    down,
    1,
    new RegExp(
      `1 of 1 records not delivered to 127\\.0\\.0\\.1:${port}: connection refused`,
    ),
  );
  oneLineError(
    lookup,
    1,
    /not delivered to no-such-host\.invalid:9020: host name lookup failed/,
  );
  oneLineError(
    udpLookup,
    1,
    /cannot send to no-such-host\.invalid:9021: host name lookup failed/,
  );
});

Deno.test("cli: --format takes Python's %-style format, --name filters by logger hierarchy, and the default line shows extras", async () => {
  const format =
    "%(levelname)-8s|%(name)s|%(message)s|user=%(user)s|%(lineno)d|%(missing)s";
  const [formatted, plain] = await Promise.all([
    startListen([
      "--port",
      "0",
      "--name",
      "app",
      "--name",
      "ops.disk",
      "--format",
      format,
    ]),
    startListen(["--port", "0"]),
  ]);
  try {
    // CPython's own SocketHandler, four loggers, extras on two records.
    const script = `
import logging, logging.handlers, sys
for port in map(int, sys.argv[1:]):
    h = logging.handlers.SocketHandler("127.0.0.1", port)
    for name in ["app", "app.db", "apple", "ops", "ops.disk.sda"]:
        log = logging.getLogger(name)
        log.propagate = False
        log.handlers = [h]
        log.setLevel(logging.DEBUG)
        log.warning("from %s", name, extra={"user": "ann", "n": 3} if name == "app.db" else None)
    h.close()
`;
    await runPython(["-c", script, String(formatted.port), String(plain.port)]);
    await until(() => formatted.lines.length >= 3 && plain.lines.length >= 5);
    const line = (name: string, user: string) =>
      new RegExp(
        `^WARNING \\|${
          name.replace(".", "\\.")
        }\\|from ${name}\\|user=${user}\\|\\d+\\|-$`,
      );
    equal(formatted.lines.length, 3, formatted.lines.join("\n"));
    match(formatted.lines[0], line("app", "-"));
    match(formatted.lines[1], line("app.db", "ann"));
    match(formatted.lines[2], line("ops.disk.sda", "-"));
    equal(plain.lines.length, 5);
    match(plain.lines[1], / WARNING {2}app\.db: from app\.db user=ann n=3$/);
    match(plain.lines[2], / WARNING {2}apple: from apple$/);
  } finally {
    await Promise.all([formatted.stop(), plain.stop()]);
  }
});

Deno.test("cli: --version prints deno.json's version", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  );
  equal(VERSION, config.version);
  const r = await runCli(["--version"]);
  equal(r.code, 0);
  equal(r.stdout, `pysocklog ${config.version}\n`);
});

Deno.test("cli: usage errors are one line with exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["listen", "--port", ""],
      /--port must be a number from 0 to 65535, not ""/,
    ],
    [["listen", "--port", "-1"], /--port must be .* not "-1"/],
    [["listen", "--port", "70000"], /--port must be .* not "70000"/],
    [["listen", "--port", "nine"], /--port must be .* not "nine"/],
    [["listen", "--port=1.5"], /--port must be .* not "1\.5"/],
    [["listen", "--port"], /--port needs a value/],
    [["listen", "extra"], /listen takes no arguments, not "extra"/],
    [["listen", "--loud"], /unknown option "--loud"/],
    [["listen", "--json", "--format", "%(name)s"], /--json and --format/],
    [
      ["listen", "--format", "%(name)q"],
      /--format: unsupported format character 'q'/,
    ],
    [["listen", "--format", "%s %(name)s"], /--format: use %\(key\)s fields/],
    [["listen", "--format", "plain text"], /--format: no %\(key\)s field/],
    [["listen", "--format", "%(msg)999999999s"], /wider than the record limit/],
    [["listen", "--max-chars", "10"], /--max-chars must be a number/],
    [["listen", "--udp", "--unix", "/tmp/x"], /--udp and --unix/],
    [["send", "--level", "LOUD", "x"], /--level must be a level name/],
    // Not an exact int: it went out as the float 1e20 (audit).
    [["send", "--level", "99999999999999999999", "x"], /--level must be/],
    [["send", "--level", "Level 1e30", "x"], /--level must be/],
    // Port 0 cannot be sent to: exit 1 and the handler's RangeError text.
    [["send", "--port", "0", "x"], /--port must be a number from 1 to 65535/],
    [["send", "--json", "x"], /send does not take --json/],
    [["shout"], /unknown command "shout"/],
    [["--port", "9020", "listen"], /a command comes first/],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(args)));
  results.forEach((r, i) => oneLineError(r, 2, cases[i][1]));
});

Deno.test("cli: listen failures are one line with exit 1: port in use, bad host, missing directory, missing permission", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = String(taken.addr.port);
  const udpTaken = dgram.createSocket("udp4");
  await new Promise<void>((r) => udpTaken.bind(0, "127.0.0.1", r));
  // A Unix socket takes net access too (Deno 2.9 asks for "unix:PATH").
  const unixRW = ["--allow-net", "--allow-read", "--allow-write"];
  try {
    const dir = await Deno.makeTempDir();
    const cases: [string[], string[] | undefined, RegExp][] = [
      [
        ["listen", "--port", port],
        undefined,
        new RegExp(
          `cannot listen on tcp 127\\.0\\.0\\.1:${port}: address already in use`,
        ),
      ],
      [
        [
          "listen",
          "--udp",
          "--port",
          String(udpTaken.address().port),
        ],
        undefined,
        /cannot listen on udp 127\.0\.0\.1:\d+: address already in use/,
      ],
      [
        ["listen", "--host", "no-such-host.invalid", "--port", "0"],
        undefined,
        /cannot listen on tcp no-such-host\.invalid:0: host name lookup failed/,
      ],
      [
        ["listen", "--unix", `${dir}/missing/log.sock`],
        unixRW,
        /cannot listen on unix .*\/missing\/log\.sock: its directory does not exist/,
      ],
      [
        ["listen", "--port", "0"],
        [],
        /missing permission: requires net access .*--allow-net/,
      ],
      [
        ["listen", "--unix", `${dir}/log.sock`],
        ["--allow-net", "--allow-write"],
        /missing permission: requires read access .*--allow-read/,
      ],
      [
        ["send", "--port", port, "x"],
        [],
        /missing permission: requires net access to 127\.0\.0\.1:\d+, run again with --allow-net/,
      ],
    ];
    const results = await Promise.all(
      cases.map(([args, permissions]) => runCli(args, { permissions })),
    );
    results.forEach((r, i) => oneLineError(r, 1, cases[i][2]));
    await Deno.remove(dir, { recursive: true });
  } finally {
    await new Promise<void>((r) => udpTaken.close(() => r()));
  }
});
