// getMessage's %-formatting against CPython's own `%` operator, case by
// case, for the values a Deno program logs and the receiver gets as the
// same Python values (a safe integer as int, other numbers as float).

import { equal } from "node:assert/strict";
import { getMessage, makeLogRecord, makePickle } from "../mod.ts";
import { runPython } from "./_helpers.ts";

/** A format, its args in JavaScript, the same args as a Python expression. */
type Case = [string, unknown[] | Record<string, unknown>, string];

/** CPython's `fmt % args` for each case: its text, or "ERR". */
async function cpython(cases: Case[]): Promise<string[]> {
  const script = `
import json, sys
for fmt, args in json.load(sys.stdin):
    try:
        print(json.dumps(fmt % eval(args)))
    except Exception as e:
        print(json.dumps("ERR"))
`;
  const input = JSON.stringify(cases.map(([fmt, , py]) => [fmt, py]));
  const out = await runPython(["-c", script], input);
  return out.trim().split("\n").map((line) => JSON.parse(line));
}

function ours([msg, args]: Case): string {
  try {
    return getMessage({ msg, args });
  } catch {
    return "ERR";
  }
}

async function check(cases: Case[]): Promise<void> {
  const want = await cpython(cases);
  const bad = cases.flatMap((c, i) => {
    const got = ours(c);
    return got === want[i] ? [] : [
      `${c[0]} % ${c[2]}: CPython ${JSON.stringify(want[i])}, ours ${
        JSON.stringify(got)
      }`,
    ];
  });
  equal(bad.join("\n"), "");
}

Deno.test("fidelity: the %-conversions the brief lists give CPython's text", async () => {
  await check([
    [
      "%5.2f|%-10s|%x|%o|%e|%c",
      [3.14159, "ab", 255, 8, 12345.678, 65],
      "(3.14159,'ab',255,8,12345.678,65)",
    ],
    ["%s %s %s", [null, true, false], "(None, True, False)"],
    ["%r %r %r", [null, true, false], "(None, True, False)"],
    ["%s", [undefined], "(None,)"],
    ["%d %d %d %d", [3.7, -3.7, true, false], "(3.7, -3.7, True, False)"],
    ["%(key)s %(n)05.1f %%", { key: "v", n: 2.25 }, "{'key':'v','n':2.25}"],
    ["%(a)s %(a)r", { a: "x" }, "{'a':'x'}"],
    ["%x %X %#x %#o %o", [-255, 255, 255, 8, -8], "(-255,255,255,8,-8)"],
    ["%+d % d %05d %-5d|", [5, 5, -42, 3], "(5,5,-42,3)"],
    [
      "%g %g %g %g %G",
      [0.0001, 123456789, 1e-5, 100, 1e-10],
      "(0.0001,123456789,1e-5,100,1e-10)",
    ],
    ["%.0f %.0f %.0f %.1f", [0.5, 1.5, 2.5, 0.25], "(0.5,1.5,2.5,0.25)"],
    ["%.3s|%10.2s|%-5s|", ["abcdef", "xyz", "é"], "('abcdef','xyz','é')"],
    ["%*d|%-*s|%.*f", [5, 42, 4, "x", 2, 3.14159], "(5,42,4,'x',2,3.14159)"],
    ["%r %r", ["it's", 'say "hi"'], '("it\'s", \'say "hi"\')'],
    ["%r", ["both ' and \""], '("both \' and \\"",)'],
    ["%c %s %r", ["x", 1.5, 1.5], "('x', 1.5, 1.5)"],
  ]);
});

Deno.test("fidelity: %r and %a escape as Python's repr and ascii do", async () => {
  // Before: '%r' left NUL, ESC, DEL, C1, NBSP, U+200B and U+2028 raw (a
  // terminal acted on them), and %a wrote non-ASCII as is.
  await check([
    [
      "%r",
      ["a\x00b\x1b\x7f\u0085é\u00a0\u200b\u2028\u3000😀"],
      "('a\\x00b\\x1b\\x7f\\x85é\\xa0\\u200b\\u2028\\u3000😀',)",
    ],
    ["%r", ["tab\there\nnew\\"], "('tab\\there\\nnew\\\\',)"],
    ["%a", ["é☃😀"], "('é☃😀',)"],
    ["%.4r", ["\x00abc"], "('\\x00abc',)"],
  ]);
  // A lone surrogate, which JSON cannot carry to Python: '\ud800x'.
  equal(getMessage({ msg: "%r", args: ["\ud800x"] }), "'\\ud800x'");
});

Deno.test("fidelity: %s of a number that travels as a float is Python's float text", async () => {
  // Before: 1e-7 gave '1e-7', 1e16 '10000000000000000', NaN 'NaN', -0 '0'.
  await check([
    ["%s %s %s", [1e-7, 1e16, 1e21], "(1e-07, 1e16, 1e21)"],
    [
      "%s %s %s %s",
      [NaN, Infinity, -Infinity, -0],
      "(float('nan'), float('inf'), float('-inf'), -0.0)",
    ],
    ["%s %s", [0.1 + 0.2, 0.0001], "(0.1+0.2, 0.0001)"],
    [
      "%s %r",
      [123456789012345680000, 2 ** 53],
      "(123456789012345680000.0, 9007199254740992.0)",
    ],
    ["%s %s", [2 ** 53 - 1, -42], "(2**53-1, -42)"],
  ]);
});

Deno.test("fidelity: precision, width in code points, %c and %x fail or pass as in CPython", async () => {
  // Before: '%.3d' of 7 gave '7', '%5s' of an emoji 3 spaces, '%c' of
  // True 'True' and of 'xy' 'xy', '%x' of 2.5 '2', '%s%' '1%'.
  await check([
    ["%.3d|%5.3d|%.3x|%#.4o", [7, 7, 10, 8], "(7, 7, 10, 8)"],
    ["%5s|%-4s|", ["😀", "😀x"], "('😀', '😀x')"],
    ["%c|%c", [true, 0x1f600], "(True, 0x1f600)"],
    ["%c", ["xy"], "('xy',)"],
    ["%c", [1.5], "(1.5,)"],
    ["%c", [0x110000], "(0x110000,)"],
    ["%x", [2.5], "(2.5,)"],
    ["%o", [2.5], "(2.5,)"],
    ["%s%", [1], "(1,)"],
    ["%y %s", [1, 2], "(1, 2)"],
    ["%5% %s", [1], "(1,)"],
    ["100%% %s", ["x"], "('x',)"],
  ]);
});

Deno.test("fidelity: what a Python receiver's getMessage() shows for %.3d and %r", async () => {
  // The handler's frame carries the same text (the encoder's fast path
  // took '%.3d' as plain '%d' before).
  const frame = makePickle(
    makeLogRecord({ msg: "%.3d %r", args: [7, "a\x00"] }),
  );
  const out = await runPython([
    "-c",
    "import sys,pickle,logging;d=sys.stdin.buffer.read();" +
    "print(logging.makeLogRecord(pickle.loads(d[4:])).getMessage())",
  ], frame);
  equal(out.trim(), "007 'a\\x00'");
});
