// Library-like frames for tests/caller_depth_test.ts: each call adds one
// frame of this file between the caller and findCaller.
import { findCaller } from "../../mod.ts";

const isHere = (file: string) => file.endsWith("/_caller/deep.ts");

/** findCaller from `depth` frames of this file below the caller. */
export function nested(depth: number): ReturnType<typeof findCaller> {
  return depth === 0 ? findCaller(isHere) : nested(depth - 1);
}
