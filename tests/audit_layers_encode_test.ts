// Encoder edges the audit found apart from CPython, judged by CPython's
// pickle.loads.

import { deepEqual } from "node:assert/strict";
import { dumps, makePickle, tuple } from "../mod.ts";
import { lengthPrefixed, runPython } from "./_helpers.ts";

/** repr() of what pickle.loads gives for each pickle, or "ERR <message>". */
async function pythonReprs(pickles: Uint8Array[]): Promise<string[]> {
  const script = `
import json, pickle, struct, sys
data = sys.stdin.buffer.read()
pos = 0
while pos < len(data):
    (n,) = struct.unpack(">L", data[pos:pos + 4])
    blob = data[pos + 4:pos + 4 + n]
    pos += 4 + n
    try:
        v = pickle.loads(blob)
        if isinstance(v, dict) and "levelno" in v:
            v = v["k"]
        print(json.dumps(repr(v)))
    except Exception as e:
        print(json.dumps(f"ERR {type(e).__name__}: {e}"))
`;
  const out = await runPython(["-c", script], lengthPrefixed(pickles));
  return out.trim().split("\n").map((line) => JSON.parse(line));
}

Deno.test("a tuple holding a list, as a Map key or a Set item, is made hashable as an array there is (CPython refused the whole pickle: unhashable type 'list')", async () => {
  const key = tuple([1, 2], "a");
  const nested = tuple(tuple([3]), 4);
  const values = [
    new Map<unknown, unknown>([[key, "v"]]),
    new Set([key]),
    new Map<unknown, unknown>([[nested, 1]]),
    new Map<unknown, unknown>([[tuple(1, "plain"), 1]]),
  ];
  const pickles = values.map((v) => dumps(v));
  // And as a record's extra (the record encoder's own path).
  pickles.push(makePickle({ msg: "m", k: values[0] }).subarray(4));
  deepEqual(await pythonReprs(pickles), [
    "{((1, 2), 'a'): 'v'}",
    "{((1, 2), 'a')}",
    "{(((3,),), 4): 1}",
    "{(1, 'plain'): 1}",
    "{((1, 2), 'a'): 'v'}",
  ]);
});
