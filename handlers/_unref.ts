// Copyright the pysocklog authors. MIT license.
// Socket writes that do not hold the event loop open.

type Core = {
  unrefOpPromise?: (p: Promise<unknown>) => void;
  write?: (rid: number, data: Uint8Array) => Promise<number>;
};

const core: Core | undefined = (() => {
  try {
    const internal = (Deno as unknown as { internal?: symbol }).internal;
    if (internal === undefined) return undefined;
    const d = Deno as unknown as Record<symbol, { core?: Core } | undefined>;
    return d[internal]?.core;
  } catch {
    return undefined;
  }
})();

/** The symbol Deno keeps a connection's resource id under (not `Symbol.for`). */
let ridSymbol: symbol | undefined;

/**
 * Whether writes can be unref'd in this Deno: its internal `core.write`
 * and `core.unrefOpPromise` exist (`Deno.Conn.unref()` covers reads only,
 * and the promise `conn.write` returns cannot be unref'd).
 */
export const canUnrefWrites: boolean =
  typeof core?.unrefOpPromise === "function" &&
  typeof core?.write === "function";

function ridOf(conn: Deno.Conn): number | undefined {
  ridSymbol ??= Object.getOwnPropertySymbols(conn).find((s) =>
    s.description === "Deno.internal.rid"
  );
  if (ridSymbol === undefined) return undefined;
  const rid = (conn as unknown as Record<symbol, unknown>)[ridSymbol];
  return typeof rid === "number" ? rid : undefined;
}

/**
 * `conn.write(data)`, but the pending write does not keep the program
 * alive: a write to a receiver that stopped reading would otherwise hold
 * the event loop forever, and `beforeunload` (where the handler bounds exit
 * by `exitTimeout`) would never run. Falls back to `conn.write` for a
 * connection that is not one of Deno's own (a custom `makeSocket`).
 */
export function writeUnref(
  conn: Deno.Conn,
  data: Uint8Array,
): Promise<number> {
  const rid = canUnrefWrites ? ridOf(conn) : undefined;
  if (rid === undefined) return conn.write(data);
  const promise = core!.write!(rid, data);
  try {
    core!.unrefOpPromise!(promise);
  } catch {
    // not an op promise: it stays ref'd
  }
  return promise;
}
