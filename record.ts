// Copyright the pysocklog authors. MIT license.
/**
 * The Python LogRecord attribute dict: build it, normalise it, frame it.
 * The public face of the record layer in `record/`: the model
 * (`record/model.ts`), levels, Python's %-formatting, the wire's framing,
 * the record encoder and caller information.
 *
 * @module
 */

export { RECORD_KEYS } from "./record/_keys.ts";
export {
  CRITICAL,
  DEBUG,
  ERROR,
  getLevelName,
  getLevelNo,
  INFO,
  type Level,
  NOTSET,
  TRACE,
  WARNING,
} from "./record/levels.ts";
export {
  isLogRecord,
  type LogRecordDict,
  type LogRecordFields,
  type LogRecordInit,
  makeLogRecord,
  toLogRecord,
} from "./record/model.ts";
export { getMessage } from "./record/percent.ts";
export {
  DEFAULT_TCP_LOGGING_PORT,
  DEFAULT_UDP_LOGGING_PORT,
  FRAME_HEADER,
  frameLength,
} from "./record/frame.ts";
export { type FrameSink, makePickle, writeFrame } from "./record/encode.ts";
export { releaseFrames } from "./record/_slabs.ts";
export {
  type CallerInfo,
  findCaller,
  findCallerAbove,
} from "./record/caller.ts";
