// getMessage against CPython's LogRecord.getMessage() where the audit
// found them apart.

import { equal, throws } from "node:assert/strict";
import { getMessage, loads, makeLogRecord, makePickle } from "../mod.ts";
import { runPython } from "./_helpers.ts";

/**
 * CPython's `LogRecord(..., fmt, tuple(args), ...).getMessage()` for each
 * case (a single mapping is the mapping, as there): its text, or
 * "ERR <TypeName>".
 */
async function pythonPercent(
  cases: [string, unknown[]][],
): Promise<string[]> {
  const script = `
import json, logging, sys
for fmt, args in json.load(sys.stdin):
    try:
        r = logging.LogRecord("n", 20, "p", 1, fmt, tuple(args), None)
        print(json.dumps(r.getMessage()))
    except Exception as e:
        print(json.dumps("ERR " + type(e).__name__))
`;
  const out = await runPython(["-c", script], JSON.stringify(cases));
  return out.trim().split("\n").map((line) => JSON.parse(line));
}

function ours(msg: string, args: unknown[]): string {
  try {
    return getMessage(makeLogRecord({ msg, args }));
  } catch (error) {
    return `ERR ${(error as Error).name}`;
  }
}

Deno.test("a record whose only arg is a mapping: a positional %s takes the mapping itself, once, as Python's % does", async () => {
  // logger.info("payload %s", {"id": 1}) in Python: LogRecord makes the
  // mapping its args, and "%s" % mapping formats the mapping.
  const cases: [string, unknown[]][] = [
    ["payload %s", [{ id: 1 }]],
    ["%s then %(id)s", [{ id: 1 }]],
    ["%(id)s", [{ id: 1 }]],
    ["%s %s", [{ id: 1 }]],
    ["%(id)s %s", [{ id: 1 }]],
    ["%r", [{ id: 1 }]],
    ["%s %(id)s %s", [{ id: 1 }]],
    ["%(id)s %(id)s %%", [{ id: 1 }]],
  ];
  const theirs = await pythonPercent(cases);
  const got = cases.map(([msg, args]) => ours(msg, args));
  // Success and failure as CPython's; the mapping's text is Deno's.
  for (let i = 0; i < cases.length; i++) {
    equal(
      got[i].startsWith("ERR"),
      theirs[i].startsWith("ERR"),
      `${cases[i][0]}: ours ${got[i]}, Python ${theirs[i]}`,
    );
  }
  equal(got[0], "payload { id: 1 }");
  equal(got[1], "{ id: 1 } then 1");
  equal(got[2], "1");
  equal(got[3], "ERR TypeError");
  equal(got[5], "{ id: 1 }");
  const map = new Map([["id", 1]]);
  equal(
    getMessage(makeLogRecord({ msg: "m %s", args: [map] })),
    `m Map(1) { "id" => 1 }`,
  );
  // And a handler's frame carries it (makePickle threw before).
  const frame = makePickle({ msg: "payload %s", args: [{ id: 1 }] });
  equal(
    (loads(frame.subarray(4)) as Record<string, unknown>).msg,
    "payload { id: 1 }",
  );
  throws(
    () => getMessage({ msg: "%s %s", args: { id: 1 } }),
    /not enough arguments/,
  );
});
Deno.test("%g keeps an integer's zeros and the exponent's, and %f/%d of 1e21 and more write every digit, as CPython", async () => {
  const cases: [string, unknown[]][] = [
    ["%.2g|%.3g|%.1g|%.4g", [10, 100, 20, 1000]],
    ["%.1g|%.1g|%.2g|%g", [1e20, 1e-10, 1e-20, 1e20]],
    ["%#.3g|%.3G|%.1G", [100, 100, 1e-10]],
    ["%f|%.2f|%.0f|%F", [1e21, 1e22, 1e100, 1.5e300]],
    ["%10.1f|%-30.1f|%+.1f|%f", [1e21, -1e21, 1e21, -1e22]],
    ["%d|%i|%u|%d|%d", [1e21, -1e22, 1e100, 2 ** 70, 1e21 + 0.5]],
    ["%g|%.3g|%.2f|%d", [100, 1234, 2.675, 42]],
  ];
  const theirs = await pythonPercent(cases);
  for (let i = 0; i < cases.length; i++) {
    equal(ours(...cases[i]), theirs[i], cases[i][0]);
  }
});
