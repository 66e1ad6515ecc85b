// The encoder's UTF-8 paths (short strings by hand, long 3-byte text by its
// own loop, other long text by TextEncoder) against a plain reference, on
// seeded strings of every length around the switch points, with surrogate
// pairs and lone surrogates (written as CPython's surrogatepass writes
// them); then CPython reads a sample back to the same strings.
import { deepEqual, equal } from "node:assert/strict";
import { dumps } from "../mod.ts";
import { prng, runPython } from "./_helpers.ts";

/** UTF-8 of a string, lone surrogates as surrogatepass: the reference. */
function utf8(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) {
      out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    } else {
      out.push(
        0xf0 | (c >> 18),
        0x80 | ((c >> 12) & 0x3f),
        0x80 | ((c >> 6) & 0x3f),
        0x80 | (c & 0x3f),
      );
    }
  }
  return out;
}

/** A string of `n` code units, mostly of the given kind, with a few others. */
function text(r: () => number, n: number, wide: boolean): string {
  const units: number[] = [];
  while (units.length < n) {
    const x = r();
    if (x < 0.03) units.push(0xd800 + Math.floor(r() * 0x400)); // lone high
    else if (x < 0.06) units.push(0xdc00 + Math.floor(r() * 0x400)); // lone low
    else if (x < 0.1 && units.length + 2 <= n) {
      units.push(0xd83d, 0xde00 + Math.floor(r() * 0x50)); // emoji pair
    } else if (x < 0.15) units.push(0x80 + Math.floor(r() * 0x780)); // 2 bytes
    else if (x < 0.2) units.push(0x20 + Math.floor(r() * 0x5f)); // ASCII
    else {
      units.push(
        wide
          ? 0x4e00 + Math.floor(r() * 0x5000)
          : 0x20 + Math.floor(r() * 0x5f),
      );
    }
  }
  return String.fromCharCode(...units.slice(0, n));
}

const strings: string[] = [];
const r = prng(5);
for (const n of [1, 2, 3, 63, 64, 65, 66, 100, 1000, 5000]) {
  for (const wide of [true, false]) {
    for (let k = 0; k < 8; k++) strings.push(text(r, n, wide));
  }
}
// Lone surrogates at the very ends of long wide text.
strings.push("\ud800" + "中".repeat(100), "中".repeat(100) + "\udbff");
strings.push("中".repeat(100) + "\ud83d", "\ude00" + "中".repeat(100));

Deno.test("strings are written as UTF-8 with surrogatepass, on every path", () => {
  for (const s of strings) {
    const bytes = dumps(s);
    // PROTO 2, BINUNICODE, 4-byte length, the text, STOP.
    const want = utf8(s);
    const n = new DataView(bytes.buffer, bytes.byteOffset).getUint32(3, true);
    equal(n, want.length, `length of a ${s.length}-unit string`);
    deepEqual(
      Array.from(bytes.subarray(7, 7 + n)),
      want,
      `a ${s.length}-unit string`,
    );
  }
});

Deno.test("CPython reads the strings back", async () => {
  const sample = strings.filter((_, i) => i % 5 === 0);
  const hex = sample.map((s) =>
    Array.from(dumps(s), (b) => b.toString(16).padStart(2, "0")).join("")
  );
  const out = await runPython(
    [
      "-c",
      `import json, pickle, sys
for h in json.load(sys.stdin):
    s = pickle.loads(bytes.fromhex(h))
    print(json.dumps([ord(c) if ord(c) < 0x10000 else [0xd800 + ((ord(c) - 0x10000) >> 10), 0xdc00 + ((ord(c) - 0x10000) & 0x3ff)] for c in s]))`,
    ],
    JSON.stringify(hex),
  );
  const lines = out.trim().split("\n");
  equal(lines.length, sample.length);
  lines.forEach((line, i) => {
    const units = (JSON.parse(line) as (number | number[])[]).flat();
    const s = sample[i];
    deepEqual(
      units,
      Array.from({ length: s.length }, (_, k) => s.charCodeAt(k)),
    );
  });
});
