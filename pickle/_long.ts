// Copyright the pysocklog authors. MIT license.
// LONG1/LONG4 arguments: little-endian two's complement ints of any size,
// read in linear time. Building the BigInt one byte at a time (v << 8n | b)
// is quadratic: 1,600 ints of 10,000 bytes took 27-31 s; as one hex string
// and one BigInt() they take milliseconds.

/** Longs up to this many bytes are read as a number (2^48 fits exactly). */
const NUMBER_BYTES = 6;
/** ASCII codes of the hex digits. */
const HEX = new TextEncoder().encode("0123456789abcdef");
const ascii = new TextDecoder();
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * The int of `n` little-endian two's complement bytes at `at`: a number
 * when it is a safe integer, else a bigint.
 *
 * @param b The pickle.
 * @param at Offset of the first (least significant) byte.
 * @param n Count of bytes.
 * @returns The int.
 */
export function readLong(
  b: Uint8Array,
  at: number,
  n: number,
): number | bigint {
  if (n === 0) return 0;
  if (n <= NUMBER_BYTES) {
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + b[at + i];
    if (b[at + n - 1] & 0x80) v -= 2 ** (8 * n);
    return v;
  }
  // Most significant byte first, two hex digits a byte: linear in n.
  const digits = new Uint8Array(2 * n);
  for (let i = 0, j = at + n - 1; i < digits.length; i += 2, j--) {
    const x = b[j];
    digits[i] = HEX[x >> 4];
    digits[i + 1] = HEX[x & 15];
  }
  let v = BigInt("0x" + ascii.decode(digits));
  if (b[at + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
  return v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : v;
}
