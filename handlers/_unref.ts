// Copyright the pysocklog authors. MIT license.
// Lets a pending socket write stop holding the event loop open.

type Core = { unrefOpPromise?: (p: Promise<unknown>) => void };

const core: Core | undefined = (() => {
  try {
    const d = Deno as unknown as Record<symbol, { core?: Core } | undefined>;
    const internal = (Deno as unknown as { internal?: symbol }).internal;
    return internal === undefined ? undefined : d[internal]?.core;
  } catch {
    return undefined;
  }
})();

/**
 * Whether pending writes can be unref'd in this Deno (Deno's internal
 * `core.unrefOpPromise`; Deno.Conn's public `unref()` covers reads only).
 */
export const canUnrefWrites: boolean = typeof core?.unrefOpPromise ===
  "function";

/**
 * Marks the promise of a pending op (as `conn.write` returns it) as not
 * keeping the program alive. A write to a receiver that stopped reading
 * would otherwise hold the event loop forever, and `beforeunload` (where
 * the handler bounds exit by `exitTimeout`) would never run.
 */
export function unrefWrite<T>(promise: Promise<T>): Promise<T> {
  if (canUnrefWrites) {
    try {
      core!.unrefOpPromise!(promise);
    } catch {
      // not an op promise: it stays ref'd
    }
  }
  return promise;
}
