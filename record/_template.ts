// Copyright the pysocklog authors. MIT license.
// The record template: the fixed keys of a record as runs of ready pickle
// bytes, each run ending with the key of the next value, all derived from
// the one key list (record/_keys.ts), and the copies that write them.

import * as op from "../pickle/_opcodes.ts";
import { Writer } from "../pickle/_writer.ts";
import { PROTOCOL, writeFloat } from "../pickle/encode.ts";
import { keyIndex, RECORD_KEYS } from "./_keys.ts";

// What writeRecordPickle does with a key's value.
const AS_IS = 0;
/** `msg`: the formatted message. */
export const AS_MESSAGE = 1;
/** `args`, `exc_info`: None. */
export const AS_NONE = 2;
/** `created`, `msecs`, `relativeCreated`: always a float. */
export const AS_FLOAT = 3;

export function actionOf(key: string): number {
  switch (key) {
    case "msg":
      return AS_MESSAGE;
    case "args":
    case "exc_info":
      return AS_NONE;
    case "created":
    case "msecs":
    case "relativeCreated":
      return AS_FLOAT;
    default:
      return AS_IS;
  }
}

/** CPython's LogRecord keys in CPython's order (as the model builds them). */
export const STANDARD_KEYS = RECORD_KEYS;
export const STANDARD_ACTIONS = STANDARD_KEYS.map(actionOf);
/** Each standard key as a whole BINUNICODE opcode: `X`, length, UTF-8. */
const STANDARD_KEY_BYTES = STANDARD_KEYS.map((key) => {
  const w = new Writer(64);
  w.byte(op.BINUNICODE);
  w.lengthPrefixedUtf8(key);
  return w.take();
});

/** PROTO 2, EMPTY_DICT, BINPUT 0, MARK: how every record pickle starts. */
export const RECORD_HEAD = new Uint8Array([
  op.PROTO,
  PROTOCOL,
  op.EMPTY_DICT,
  op.BINPUT,
  0,
  op.MARK,
]);

// ---- The fast path: a record as makeLogRecord builds it -------------------
//
// The keys are fixed, so a record is a template: runs of ready key bytes
// (with None for args and exc_info) between the values. The values are
// written straight into the slab; the strings that repeat from record to
// record (logger, level, source, function, thread) come from the writer's
// string cache (pickle/_writer.ts), keyed by the string itself, so a new
// logger or call site costs one cache entry, not a miss of a whole block
// (the kept blocks were keyed by 4 sets of values: on 400 call sites they
// missed, about 2.5 µs a record).

/** Indexes into STANDARD_KEYS, derived from it. */
const K_NAME = keyIndex("name");
const K_MSG = keyIndex("msg");
export const K_CREATED = keyIndex("created");
const K_MSECS = keyIndex("msecs");
export const K_RELATIVE = keyIndex("relativeCreated");

/** The bytes of the keys `from` .. `to` (inclusive), with None after args and exc_info. */
function keysBytes(from: number, to: number, head?: Uint8Array): Uint8Array {
  const w = new Writer(1024);
  if (head !== undefined) w.raw(head);
  for (let k = from; k <= to; k++) {
    w.raw(STANDARD_KEY_BYTES[k]);
    if (k < to && STANDARD_ACTIONS[k] === AS_NONE) w.byte(op.NONE);
  }
  return w.take().slice();
}

/** The bytes of one key, as keysBytes. */
function keyRun(key: string): Uint8Array {
  return keysBytes(keyIndex(key), keyIndex(key));
}

// The template's runs of ready bytes: each ends with the key of the next value.
export const T_NAME = keysBytes(K_NAME, K_NAME, RECORD_HEAD);
export const T_MSG = keysBytes(K_MSG, K_MSG);
export const T_LEVELNAME = keysBytes(keyIndex("args"), keyIndex("levelname"));
export const T_LEVELNO = keyRun("levelno");
export const T_PATHNAME = keyRun("pathname");
export const T_FILENAME = keyRun("filename");
export const T_MODULE = keyRun("module");
export const T_EXC_TEXT = keysBytes(keyIndex("exc_info"), keyIndex("exc_text"));
export const T_STACK_INFO = keyRun("stack_info");
export const T_LINENO = keyRun("lineno");
export const T_FUNCNAME = keyRun("funcName");
export const T_THREAD = keyRun("thread");
export const T_THREADNAME = keyRun("threadName");
export const T_PROCESSNAME = keyRun("processName");
export const T_PROCESS = keyRun("process");
export const T_TASKNAME = keyRun("taskName");
if (keyIndex("taskName") !== STANDARD_KEYS.length - 1) {
  throw new Error("The record template must end with taskName");
}

/**
 * The keys created, msecs and relativeCreated, each followed by BINFLOAT
 * and room for its 8 bytes: the times are set into a copy of it.
 */
export const TIMES = (() => {
  const w = new Writer(128);
  for (let k = K_CREATED; k <= K_RELATIVE; k++) {
    w.raw(STANDARD_KEY_BYTES[k]);
    writeFloat(w, 0);
  }
  return w.take().slice();
})();
/** Where each time's 8 bytes are in TIMES. */
export const TIMES_CREATED = STANDARD_KEY_BYTES[K_CREATED].length + 1;
export const TIMES_MSECS = TIMES_CREATED + 8 +
  STANDARD_KEY_BYTES[K_MSECS].length + 1;
export const TIMES_RELATIVE = TIMES_MSECS + 8 +
  STANDARD_KEY_BYTES[K_RELATIVE].length + 1;

/** exc_info None, exc_text None, stack_info None, then the key of lineno. */
export const T_NO_EXC_LINENO = (() => {
  const w = new Writer(256);
  w.raw(T_EXC_TEXT);
  w.byte(op.NONE);
  w.raw(T_STACK_INFO);
  w.byte(op.NONE);
  w.raw(T_LINENO);
  return w.take().slice();
})();

/** Copies ready bytes (short: a loop beats `set`, which costs a call). */
export function seg(w: Writer, bytes: Uint8Array): void {
  const n = bytes.length;
  w.ensure(n);
  const buf = w.buf;
  let p = w.pos;
  for (let i = 0; i < n; i++) buf[p++] = bytes[i];
  w.pos = p;
}

/** Copies the ready bytes of standard key `k` (see seg). */
export function writeKey(w: Writer, k: number): void {
  const bytes = STANDARD_KEY_BYTES[k];
  const n = bytes.length;
  w.ensure(n);
  const buf = w.buf;
  let p = w.pos;
  for (let i = 0; i < n; i++) buf[p++] = bytes[i];
  w.pos = p;
}
