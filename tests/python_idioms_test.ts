// Python's meaning for the value cases a Deno caller can hand a record:
// what CPython itself does with each (computed live by python3), against
// what a CPython receiver decodes from our SocketHandler.
import { deepEqual, equal, match, ok, throws } from "node:assert/strict";
import { makeLogRecord, makePickle, SocketHandler } from "../mod.ts";
import { PyReceiver } from "./_receiver.ts";
import { runPython } from "./_helpers.ts";

/** Runs a Python expression per line; returns each value (or the error text) as JSON. */
async function python(expressions: string[]): Promise<unknown[]> {
  const code = `
import json, logging, sys
def ev(src):
    try:
        return eval(src)
    except Exception as e:
        return type(e).__name__ + ": " + str(e)
for line in sys.stdin.read().splitlines():
    print(json.dumps(ev(line)))
`;
  const out = await runPython(["-c", code], expressions.join("\n"));
  return out.trim().split("\n").map((l) => JSON.parse(l));
}

const pyRecord = (msg: string, args: string) =>
  `logging.LogRecord("app", 20, "", 0, ${msg}, ${args}, None).getMessage()`;

Deno.test("Python idioms: a single non-empty mapping in args formats %(name)s (LogRecord.__init__'s rule); an empty one does not", async () => {
  const cpython = await python([
    pyRecord(
      `"%(user)s logged in from %(ip)s"`,
      `({"user": "ann", "ip": "10.0.0.1"},)`,
    ),
    pyRecord(`"%(user)s"`, `({"user": "ann"},)`),
    pyRecord(`"%s"`, `({},)`),
    pyRecord(`"%(user)s"`, `({},)`),
  ]);
  deepEqual(cpython.slice(0, 3), ["ann logged in from 10.0.0.1", "ann", "{}"]);
  match(cpython[3] as string, /^TypeError: format requires a mapping/);

  const rx = await PyReceiver.start("tcp");
  const errors: unknown[] = [];
  const h = new SocketHandler("127.0.0.1", rx.port, {
    onError: (e) => errors.push(e),
  });
  try {
    h.handle({
      name: "a",
      msg: "%(user)s logged in from %(ip)s",
      args: [{ user: "ann", ip: "10.0.0.1" }],
    });
    h.handle({
      name: "b",
      msg: "%(user)s",
      args: [new Map([["user", "ann"]])],
    });
    h.handle({ name: "c", msg: "%s", args: [{}] });
    h.handle({ name: "d", msg: "%(user)s", args: [{}] });
    await h.flush();
    await rx.waitFor(3);
    const by = Object.fromEntries(rx.records.map((r) => [r.name, r]));
    equal(by.a.msg, cpython[0]);
    equal(by.a._message, cpython[0]);
    equal(by.b.msg, cpython[1]);
    equal(by.c.msg, cpython[2]);
    equal(by.d, undefined, "Python refuses it too: reported, not sent");
    equal(errors.length, 1);
    match(String(errors[0]), /format requires a mapping/);
  } finally {
    await h.close();
    await rx.stop();
  }
});

Deno.test("Python idioms: any thrown value in exc_info gives exc_text; none gives None", async () => {
  const rx = await PyReceiver.start("tcp");
  const h = new SocketHandler("127.0.0.1", rx.port);
  try {
    const cases: [string, unknown][] = [
      ["string", "text"],
      ["object", { code: 1 }],
      ["number", 42],
      ["error", new RangeError("bad")],
      ["null", null],
      ["undefined", undefined],
      ["false", false],
    ];
    for (const [name, value] of cases) {
      h.handle({ name, msg: "failed", exc_info: value });
    }
    await h.flush();
    await rx.waitFor(cases.length);
    const by = Object.fromEntries(rx.records.map((r) => [r.name, r]));
    equal(by.string.exc_text, "text");
    equal(by.object.exc_text, "{ code: 1 }");
    equal(by.number.exc_text, "42");
    match(by.error.exc_text as string, /^RangeError: bad\n\s+at /);
    for (const none of ["null", "undefined", "false"]) {
      equal(by[none].exc_text, null, none);
      equal(by[none]._types.exc_text, "NoneType", none);
    }
    for (const r of rx.records) equal(r.exc_info, null);
  } finally {
    await h.close();
    await rx.stop();
  }
});

Deno.test("Python idioms: a msg of undefined or null is Python's None (getMessage gives 'None'); no msg at all is makeLogRecord's ''", async () => {
  const cpython = await python([
    `logging.makeLogRecord({"msg": None}).getMessage()`,
    `logging.makeLogRecord({}).getMessage()`,
    `logging.makeLogRecord({"msg": None, "args": (1,)}).getMessage()`,
  ]);
  deepEqual(cpython.slice(0, 2), ["None", ""]);
  equal(makeLogRecord({ msg: undefined }).msg, null);
  equal(makeLogRecord({ msg: null }).msg, null);
  equal(makeLogRecord({}).msg, "");

  const rx = await PyReceiver.start("tcp");
  const h = new SocketHandler("127.0.0.1", rx.port);
  try {
    h.handle({ name: "undefined", msg: undefined });
    h.handle({ name: "null", msg: null, levelname: "INFO" });
    h.handle({ name: "absent" });
    h.handle(makeLogRecord({ name: "made", msg: null }));
    await h.flush();
    await rx.waitFor(4);
    const by = Object.fromEntries(rx.records.map((r) => [r.name, r]));
    for (const name of ["undefined", "null", "made"]) {
      equal(by[name].msg, cpython[0], name);
      equal(by[name]._message, cpython[0], name);
    }
    equal(by.absent.msg, cpython[1]);
  } finally {
    await h.close();
    await rx.stop();
  }
});

Deno.test("Python idioms: an extra named message or asctime, or one that would overwrite a standard key, is a reported error (CPython's makeRecord raises KeyError)", async () => {
  const cpython = await python(
    ["message", "asctime", "name", "levelno"].map((key) =>
      `logging.getLogger("a").makeRecord("a", 20, "f", 1, "m", (), None, extra={"${key}": 1})`
    ),
  );
  for (const [i, key] of ["message", "asctime", "name", "levelno"].entries()) {
    equal(cpython[i], `KeyError: "Attempt to overwrite '${key}' in LogRecord"`);
    throws(
      () => makeLogRecord({ msg: "m" }, { [key]: 1 }),
      (e: Error) =>
        e instanceof TypeError &&
        e.message === `Attempt to overwrite '${key}' in LogRecord`,
    );
  }
  for (const key of ["message", "asctime"]) {
    throws(() => makePickle({ msg: "m", [key]: 1 }), TypeError);
    throws(() => makeLogRecord({ msg: "m", [key]: 1 }), TypeError);
  }

  const rx = await PyReceiver.start("tcp");
  const errors: unknown[] = [];
  const h = new SocketHandler("127.0.0.1", rx.port, {
    onError: (e) => errors.push(e),
  });
  try {
    h.handle({ name: "message", msg: "m", message: "lost?" });
    h.handle({ name: "asctime", msg: "m", asctime: "then" });
    ok(h.handle({ name: "fine", msg: "m", user: "ann" }));
    await h.flush();
    await rx.waitFor(1);
    await h.close();
    equal(rx.records.length, 1);
    equal(rx.records[0].user, "ann");
    equal(errors.length, 2);
    match(String(errors[0]), /Attempt to overwrite 'message' in LogRecord/);
    match(String(errors[1]), /Attempt to overwrite 'asctime' in LogRecord/);
    equal(h.stats.failed, 2);
  } finally {
    await h.close();
    await rx.stop();
  }
});
