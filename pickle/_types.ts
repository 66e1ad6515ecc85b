// Copyright the pysocklog authors. MIT license.
// Value markers shared by the encoder and the decoder.

const tuples = new WeakSet<readonly unknown[]>();

/**
 * A Python tuple: a frozen array that the encoder writes as a tuple and the
 * decoder returns for a tuple.
 */
export type PickleTuple<T = unknown> = readonly T[] & {
  readonly __pickleTuple: never;
};

/**
 * Makes a Python tuple of the given items.
 *
 * @example Encode a tuple
 * ```ts
 * import { dumps, tuple } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * const bytes = dumps(tuple(1, 2));
 * equal(bytes[6], 0x86); // K 1, K 2, then TUPLE2
 * ```
 *
 * @param items The tuple's items, in order.
 * @returns A frozen array marked as a tuple.
 */
export function tuple<T extends unknown[]>(
  ...items: T
): PickleTuple<T[number]> {
  Object.freeze(items);
  tuples.add(items);
  return items as unknown as PickleTuple<T[number]>;
}

/**
 * Tells whether a value is a tuple made by {@linkcode tuple} or returned by
 * the decoder for a Python tuple.
 *
 * @example Check a value
 * ```ts
 * import { isTuple, tuple } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * equal(isTuple(tuple("a")), true);
 * equal(isTuple(["a"]), false);
 * ```
 *
 * @param value Any value.
 * @returns `true` for a tuple.
 */
export function isTuple(value: unknown): value is PickleTuple {
  return Array.isArray(value) && tuples.has(value);
}

/**
 * A number that is always written as a Python float, even when it has no
 * fractional part (JavaScript numbers do not say whether `1` is `1` or `1.0`).
 *
 * @example Force a float
 * ```ts
 * import { dumps, PickleFloat } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * equal(dumps(new PickleFloat(1))[2], 0x47); // BINFLOAT
 * ```
 */
export class PickleFloat {
  /** The number. */
  readonly value: number;
  /**
   * Wraps a number.
   *
   * @param value The number to write as a float.
   */
  constructor(value: number) {
    this.value = value;
  }
  /**
   * The number itself.
   *
   * @returns The wrapped number.
   */
  valueOf(): number {
    return this.value;
  }
}
