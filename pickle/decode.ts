// Copyright the pysocklog authors. MIT license.
/**
 * A safe pickle decoder: `loads(bytes)` reads what CPython's
 * `SocketHandler` (protocol 1), `DatagramHandler` and this package's
 * encoder (protocol 2) send, and any data pickle of protocols 0 to 5, and
 * executes nothing.
 *
 * Python's `pickle.loads` imports and calls whatever a pickle names; this
 * decoder never does. A global (`GLOBAL`, `STACK_GLOBAL`) becomes an inert
 * {@linkcode PickleGlobal}; calling or instantiating one (`REDUCE`,
 * `NEWOBJ`, `INST`, `OBJ`, `BUILD`) becomes an inert
 * {@linkcode PickleObject} that names the global and keeps its arguments,
 * state and items. The standard library's values are read as data from
 * the bytes the pickle holds: bytes, set and frozenset, date, datetime,
 * time, timezone, timedelta, Decimal, UUID, pathlib paths, OrderedDict,
 * defaultdict, Counter and deque (see `pickle/_stdlib.ts`). With
 * `globals: "reject"`, any other global fails the pickle instead.
 *
 * A dict key `"__proto__"` or `"constructor"` is an own data property like
 * any other: no prototype is ever taken from data. Input size, nesting
 * depth, memo size, the number of items and the work per pickle are
 * bounded (see {@linkcode LoadsOptions}); every opcode is read in time
 * linear in its bytes, and every failure is a {@linkcode PickleDecodeError}.
 *
 * Files: this one is the entry (options, error, `loads`); `_machine.ts`
 * the opcode machine; `_text.ts` the text and string parsers; `_long.ts`
 * the LONG1/LONG4 ints; `_inert.ts` the inert objects; `_stdlib.ts` and
 * `_datetime.ts` the standard library's forms; `_shapes.ts` the dict
 * templates; `_walk.ts` the checks made once at the end.
 *
 * @module
 */

import { Fail } from "./_fail.ts";
import { Decoder } from "./_machine.ts";
import { checkDepth } from "./_walk.ts";

export { PickleGlobal, PickleObject } from "./_inert.ts";
export {
  PickleDate,
  PickleDateTime,
  PickleTime,
  PickleTimedelta,
  PickleTimezone,
} from "./_datetime.ts";
export {
  bytesToJSON,
  PickleDecimal,
  PicklePath,
  PickleSet,
  PickleUUID,
} from "./_stdlib.ts";

/** Default {@linkcode LoadsOptions.maxBytes}: 16 MiB. */
export const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;
/** Default {@linkcode LoadsOptions.maxDepth}. */
export const DEFAULT_MAX_DEPTH = 1_000;
/** Default {@linkcode LoadsOptions.maxMemo}. */
export const DEFAULT_MAX_MEMO = 100_000;
/** Default {@linkcode LoadsOptions.maxItems}. */
export const DEFAULT_MAX_ITEMS = 1_000_000;
/**
 * Default {@linkcode LoadsOptions.maxWork}: 64 Mi units, four times the
 * default maxBytes, so that any pickle within the other defaults that does
 * not reread built values over and over fits (a unit is about 1 to 10 ns).
 */
export const DEFAULT_MAX_WORK = 4 * DEFAULT_MAX_BYTES;

/** Options of {@linkcode loads}. */
export interface LoadsOptions {
  /**
   * Longest input accepted, in bytes.
   *
   * @default {16_777_216}
   */
  maxBytes?: number;
  /**
   * Deepest nesting of containers (and of open MARKs) accepted. Deeper
   * input fails, so that code walking the result cannot overflow the stack.
   *
   * @default {1_000}
   */
  maxDepth?: number;
  /**
   * Most memo slots; a memo index at or past it fails.
   *
   * @default {100_000}
   */
  maxMemo?: number;
  /**
   * Most values pushed in all (each item of each container counts), which
   * bounds the memory a pickle can make the decoder allocate.
   *
   * @default {1_000_000}
   */
  maxItems?: number;
  /**
   * Most units of work one pickle may cost. Each input byte is a unit, and
   * so is each item an opcode copies or reads from a value already built
   * (a call's arguments, `bytes(list)`, `set(list)`, `Counter(dict)`,
   * `deque(list)`...). Every opcode is linear in its bytes, so only a
   * pickle that passes one big memoized value to call after call comes
   * near this; it fails instead of holding the event loop.
   *
   * @default {67_108_864}
   */
  maxWork?: number;
  /**
   * What a global that is not plain data becomes: `"inert"` keeps it as a
   * {@linkcode PickleGlobal} (and its calls as {@linkcode PickleObject}s);
   * `"reject"` fails the pickle. The standard library's values read as
   * data (see {@linkcode loads}) are allowed either way.
   *
   * @default {"inert"}
   */
  globals?: "inert" | "reject";
}

/**
 * A pickle that cannot be read, or that breaks a limit. `offset` is where
 * the failing opcode starts.
 *
 * @example Catch a bad pickle
 * ```ts
 * import { loads, PickleDecodeError } from "@pysocklog/pysocklog";
 * import { throws } from "node:assert/strict";
 *
 * // A str whose length runs past the end of the input.
 * throws(
 *   () => loads(new Uint8Array([0x80, 2, 0x58, 0xff, 0xff])),
 *   PickleDecodeError,
 * );
 * ```
 */
export class PickleDecodeError extends Error {
  /** Byte offset of the opcode that failed. */
  readonly offset: number;

  /**
   * Makes the error.
   *
   * @param message What is wrong.
   * @param offset Byte offset of the failing opcode.
   * @param options The cause, if any.
   */
  constructor(message: string, offset: number, options?: ErrorOptions) {
    super(`${message} (at byte ${offset})`, options);
    this.name = "PickleDecodeError";
    this.offset = offset;
  }
}

/**
 * Decodes a pickle (protocols 0 to 5) without executing anything.
 *
 * Python values become: None `null`; bool `boolean`; int `number` when it
 * is a safe integer, else `bigint`; float `number`; str `string` (lone
 * surrogates kept); bytes and bytearray `Uint8Array`; list `Array`; tuple
 * a frozen `Array` marked as a tuple (`isTuple`); dict, `OrderedDict`,
 * `defaultdict` and `Counter` a plain object when every key is a str, else
 * a `Map`; `deque` an `Array`; set and frozenset a {@linkcode PickleSet}
 * (a `Set` that JSON writes as an array); date, datetime, time, timezone
 * and timedelta a {@linkcode PickleDate}, {@linkcode PickleDateTime},
 * {@linkcode PickleTime}, {@linkcode PickleTimezone},
 * {@linkcode PickleTimedelta}; Decimal a {@linkcode PickleDecimal}; UUID a
 * {@linkcode PickleUUID}; pathlib paths a {@linkcode PicklePath}; anything
 * else a {@linkcode PickleGlobal} or {@linkcode PickleObject}. Each typed
 * form's `String()` is Python's `str()` (`isoformat()` for dates and
 * times, whose `str()` differs only in a datetime's space for the `T`) and
 * its JSON is what Python's JSON loggers write. Shared and cyclic references are kept. Bytes after the
 * STOP opcode are ignored, as CPython does.
 *
 * @example Read a record frame's pickle
 * ```ts
 * import { loads, makePickle } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * const frame = makePickle({ name: "app", msg: "hello %s", args: ["deno"] });
 * const record = loads(frame.subarray(4)) as Record<string, unknown>;
 * equal(record.msg, "hello deno");
 * equal(record.name, "app");
 * ```
 *
 * @example A Python record with a Decimal and a date in `extra=`
 * ```ts
 * import { loads } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * // pickle.dumps({"price": Decimal("9.90"), "day": date(2024, 1, 2)}, 3)
 * const pickle = "\x80\x03}(X\x05\x00\x00\x00pricecdecimal\nDecimal\nX\x04\x00\x00\x009.90" +
 *   "\x85RX\x03\x00\x00\x00daycdatetime\ndate\nC\x04\x07\xe8\x01\x02\x85Ru.";
 * const record = loads(Uint8Array.from(pickle, (c) => c.charCodeAt(0)));
 * equal(JSON.stringify(record), '{"price":"9.90","day":"2024-01-02"}');
 * ```
 *
 * @param bytes The pickle (without a frame's length prefix).
 * @param options Limits and the policy for globals.
 * @returns The value.
 * @throws {PickleDecodeError} When the pickle is malformed, names an
 *   unsupported opcode, or breaks a limit.
 * @throws {RangeError} When a limit is not a number of 0 or more, or
 *   `globals` is neither "inert" nor "reject".
 */
export function loads(
  bytes: Uint8Array,
  options: LoadsOptions = NO_OPTIONS,
): unknown {
  if (options !== lastChecked) checkOptions(options);
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (bytes.length > maxBytes) {
    throw new PickleDecodeError(
      `Pickle of ${bytes.length} bytes exceeds maxBytes (${maxBytes})`,
      0,
    );
  }
  const maxWork = options.maxWork ?? DEFAULT_MAX_WORK;
  if (bytes.length > maxWork) {
    throw new PickleDecodeError(
      `Pickle of ${bytes.length} bytes exceeds maxWork (${maxWork})`,
      0,
    );
  }
  const d = new Decoder(bytes, {
    maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH,
    maxMemo: options.maxMemo ?? DEFAULT_MAX_MEMO,
    maxItems: options.maxItems ?? DEFAULT_MAX_ITEMS,
    work: maxWork - bytes.length,
    rejectGlobals: options.globals === "reject",
  });
  let value: unknown;
  try {
    value = d.run();
    if (d.objects > 1) {
      d.opStart = 0;
      checkDepth(value, options.maxDepth ?? DEFAULT_MAX_DEPTH);
    }
  } catch (error) {
    if (error instanceof PickleDecodeError) throw error;
    const message = error instanceof Fail
      ? error.message
      : `Malformed pickle: ${error instanceof Error ? error.message : error}`;
    throw new PickleDecodeError(message, d.opStart, { cause: error });
  }
  return value;
}

const LIMITS = [
  "maxBytes",
  "maxDepth",
  "maxMemo",
  "maxItems",
  "maxWork",
] as const;

/** The options last checked: a receiver passes the same object every frame. */
let lastChecked: LoadsOptions | undefined;
const NO_OPTIONS: LoadsOptions = Object.freeze({});

function checkOptions(options: LoadsOptions): void {
  for (const name of LIMITS) {
    const v = options[name];
    if (v !== undefined && !(typeof v === "number" && v >= 0)) {
      throw new RangeError(
        `loads: ${name} must be a number of 0 or more, not ${String(v)}`,
      );
    }
  }
  const g = options.globals;
  if (g !== undefined && g !== "inert" && g !== "reject") {
    throw new RangeError(
      `loads: globals must be "inert" or "reject", not ${String(g)}`,
    );
  }
  lastChecked = options;
}
