// Frames to compare the record encoder's paths with: the reference (the
// generic encoder) and what writeFrame hands a handler's sink.
import {
  dumps,
  getMessage,
  type LogRecordInit,
  makeLogRecord,
  PickleFloat,
} from "../mod.ts";
import { writeFrame } from "../record/encode.ts";
import { lengthPrefixed } from "./_helpers.ts";

/** The reference frame: CPython's makePickle dict, through the generic encoder. */
export function referenceFrame(init: LogRecordInit): Uint8Array {
  const d: Record<string, unknown> = { ...makeLogRecord(init) };
  d.msg = getMessage(d);
  d.args = null;
  d.exc_info = null;
  delete d.message;
  for (const key of ["created", "msecs", "relativeCreated"]) {
    if (typeof d[key] === "number") d[key] = new PickleFloat(d[key] as number);
  }
  return lengthPrefixed([dumps(d)]);
}

/**
 * The frame writeFrame hands to a handler's sink. `kept`: what the sink
 * answers (true: the next frame goes after it, as in a handler).
 */
export function handlerFrame(
  init: Record<string, unknown>,
  kept = true,
): Uint8Array {
  let frame: Uint8Array | undefined;
  writeFrame(init, (buf, offset, length) => {
    frame = buf.slice(offset, offset + length);
    return kept;
  });
  if (frame === undefined) throw new Error("writeFrame wrote nothing");
  return frame;
}
