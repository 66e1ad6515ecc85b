// Record fields the audit found a Python receiver could not use.

import { deepEqual } from "node:assert/strict";
import { makeLogRecord, makePickle } from "../mod.ts";
import { lengthPrefixed, runPython } from "./_helpers.ts";

Deno.test("an invalid Date or a non-finite number as created is taken as unknown (now), so that a Python Formatter with %(asctime)s formats the record (it raised ValueError on NaN)", async () => {
  const inits = [
    { msg: "a", created: new Date(NaN) },
    { msg: "b", created: NaN },
    { msg: "c", created: Infinity },
  ];
  const frames = [
    ...inits.map((init) => makePickle(init)),
    ...inits.map((init) => makePickle(makeLogRecord(init))),
  ];
  const script = `
import logging, pickle, struct, sys, time
data = sys.stdin.buffer.read()
fmt = logging.Formatter("%(asctime)s %(message)s")
pos = 0
while pos < len(data):
    (n,) = struct.unpack(">L", data[pos:pos + 4])
    r = logging.makeLogRecord(pickle.loads(data[pos + 4:pos + 4 + n]))
    pos += 4 + n
    try:
        fmt.format(r)
        print("ok" if abs(r.created - time.time()) < 600 else "far")
    except Exception as e:
        print(type(e).__name__)
`;
  const out = await runPython(
    ["-c", script],
    lengthPrefixed(frames.map((f) => f.subarray(4))),
  );
  deepEqual(out.trim().split("\n"), frames.map(() => "ok"));
});
