// Rendering defects found by the receiver/CLI audit: each test failed on
// the code before its fix.
import { equal, ok } from "node:assert/strict";
import { formatRecord, toJSONLine } from "../cli.ts";
import { renderRecord } from "../viewer/_render.ts";
import { loads } from "../pickle/decode.ts";

Deno.test("a huge int from a peer is written within the record's budget (text, JSON, --format, viewer)", () => {
  // 200,000 bytes of LONG4: 481,649 decimal digits. Its decimal text also
  // took 2.3 s at 4 MB (quadratic), a frozen event loop per frame.
  const n = (1n << 1_600_000n) - 1n;
  const record = { name: "py", msg: "big", n };
  const max = 4_096;
  const slack = 64; // cut markers and closing brackets
  const text = formatRecord(record, { maxChars: max });
  ok(text.length <= max + slack, `text: ${text.length} chars`);
  ok(text.includes("…(+"), "text: marked as cut");
  const json = toJSONLine(record, { maxChars: max });
  ok(json.length <= max + slack, `json: ${json.length} chars`);
  const parsed = JSON.parse(json);
  equal(parsed.$truncated, true);
  const fmt = formatRecord(record, { maxChars: max, format: "%(n)d" });
  ok(fmt.length <= max + slack, `--format: ${fmt.length} chars`);
  const view = JSON.stringify(renderRecord(record));
  ok(view.length < 100_000, `viewer: ${view.length} chars`);
  // Ordinary big ints keep their decimal text.
  equal(
    toJSONLine({ n: 2n ** 70n }),
    '{"n":"1180591620717411303424"}',
  );
  ok(
    formatRecord({ msg: "m", n: -(2n ** 70n) }).endsWith(
      "n=-1180591620717411303424",
    ),
  );
});

Deno.test("viewer: a dict key that is a tuple of shared tuples renders as bounded JSON", () => {
  // {(((x,), (x,)), ((x,), (x,))) ...: 1}, 40 levels of one shared tuple:
  // 393 bytes of pickle. String() of the key joined 2^40 strings.
  const levels = 40;
  const b: number[] = [0x80, 2, 0x7d];
  const str = (s: string) =>
    b.push(0x8c, s.length, ...new TextEncoder().encode(s));
  str("msg");
  str("m");
  b.push(0x73);
  str("d");
  b.push(0x7d);
  str("x");
  b.push(0x85, 0x71, 0, 0x30); // TUPLE1 BINPUT 0 POP
  for (let i = 1; i <= levels; i++) {
    b.push(0x68, i - 1, 0x68, i - 1, 0x86, 0x71, i, 0x30); // (t, t)
  }
  b.push(0x68, levels, 0x4b, 1, 0x73, 0x73, 0x2e);
  const record = loads(new Uint8Array(b)) as Record<string, unknown>;
  const shown = JSON.parse(renderRecord(record));
  const [key] = Object.keys(shown.d);
  ok(key.startsWith("[[[[["), key.slice(0, 40));
  ok(key.length < 8_192, `${key.length} chars`);
});
