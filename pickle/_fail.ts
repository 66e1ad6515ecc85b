// Copyright the pysocklog authors. MIT license.
// The decoder's internal failure: thrown anywhere inside a decode and
// turned by `loads` into a PickleDecodeError carrying the opcode's offset.

/** Thrown inside the decoder; `loads` adds the offset of the failing opcode. */
export class Fail extends Error {}

/**
 * Fails the decode.
 *
 * @param message What is wrong.
 */
export function fail(message: string): never {
  throw new Fail(message);
}
