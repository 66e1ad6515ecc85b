// A partial record's inherited keys are not extras, even when
// Object.prototype has enumerable keys (polluted): the one-pass read of a
// partial record checks each key's owner then, and only then.
import { deepEqual, equal } from "node:assert/strict";
import { loads, makeLogRecord, makePickle } from "../mod.ts";
import { handlerFrame } from "./_frames.ts";

Deno.test("inherited enumerable keys never become extra keys", () => {
  const proto = Object.prototype as Record<string, unknown>;
  const init = { name: "app", msg: "hi", created: 1_795_000_000, user: "bob" };
  const clean = handlerFrame(init, false);
  proto.polluted = "yes";
  try {
    const frame = handlerFrame(init, false);
    deepEqual(frame, clean);
    deepEqual(frame, makePickle(makeLogRecord(init)));
    const d = loads(frame.subarray(4)) as Record<string, unknown>;
    equal(Object.hasOwn(d, "polluted"), false);
    equal(d.user, "bob");
    // Inheriting from a record: its keys are not the partial's own.
    const child = Object.assign(Object.create(init), { msg: "child" });
    const fromChild = loads(handlerFrame(child).subarray(4)) as Record<
      string,
      unknown
    >;
    equal(fromChild.msg, "child");
    equal(Object.hasOwn(fromChild, "user"), false);
  } finally {
    delete proto.polluted;
  }
});
