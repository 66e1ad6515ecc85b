// Copyright the pysocklog authors. MIT license.
// Addresses as text, for reports (re-exported by receiver.ts).

/**
 * An address as text: `host:port`, `[v6]:port`, or a Unix socket path.
 *
 * @example
 * ```ts
 * import { formatAddr } from "@pysocklog/pysocklog/receiver";
 * import { equal } from "node:assert/strict";
 *
 * equal(formatAddr({ transport: "tcp", hostname: "127.0.0.1", port: 9020 }), "127.0.0.1:9020");
 * ```
 *
 * @param addr A Deno address.
 * @returns The text.
 */
export function formatAddr(addr: Deno.Addr): string {
  if ("path" in addr) return addr.path || "a Unix socket";
  if ("hostname" in addr) {
    return addr.hostname.includes(":")
      ? `[${addr.hostname}]:${addr.port}`
      : `${addr.hostname}:${addr.port}`;
  }
  return addr.transport;
}
