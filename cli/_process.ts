// Copyright the pysocklog authors. MIT license.
/**
 * What the command does around its work: failures as one line (the
 * reason in a few words), clean-ups that run even when a signal cuts the
 * process short, and the life of a Unix socket file.
 *
 * @module
 */

import { errorText } from "./_render.ts";

/** A failure whose message is the one line to print. */
export class CliError extends Error {}

/** Work to do before the process exits, even when a signal cuts it short. */
export const cleanups = new Set<() => void>();

export function runCleanups(): void {
  for (const cleanup of cleanups) {
    try {
      cleanup();
    } catch {
      // exiting anyway
    }
  }
  cleanups.clear();
}

/** Why a network operation failed, in a few words. */
export function reason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (error instanceof Deno.errors.AddrInUse || code === "EADDRINUSE") {
    return "address already in use";
  }
  if (error instanceof Deno.errors.NotCapable) {
    const text = errorText(error);
    return "missing permission: " + text[0].toLowerCase() + text.slice(1);
  }
  if (error instanceof Deno.errors.PermissionDenied || code === "EACCES") {
    return "permission denied";
  }
  if (error instanceof Deno.errors.ConnectionRefused) {
    return "connection refused (nothing listens there)";
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return "address not available on this machine";
  }
  const text = errorText(error);
  if (
    code === "ENOTFOUND" || code === "EAI_AGAIN" ||
    /lookup address|not known|ENOTFOUND|EAI_AGAIN/.test(text)
  ) {
    return "host name lookup failed";
  }
  if (error instanceof Deno.errors.NotFound || code === "ENOENT") {
    return "no such file or directory";
  }
  return text.replace(/ \(os error \d+\)$/, "");
}

export function isBrokenPipe(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe ||
    (error as { code?: unknown } | null)?.code === "EPIPE";
}

/** Writes a line to stderr; a closed stderr is not worth a crash. */
export function printError(line: string): void {
  try {
    console.error(line);
  } catch {
    // nowhere to say it
  }
}

/**
 * Before listening on a Unix socket path: a socket file left by a receiver
 * that was killed is removed, but only when nothing accepts a connection
 * on it; a live receiver's socket or any other file is left alone.
 */
export async function clearStaleSocket(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  if (!info.isSocket) {
    throw new CliError(
      `cannot listen on unix ${path}: the file exists and is not a socket`,
    );
  }
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) {
      await Deno.remove(path); // stale: nobody listens
      return;
    }
    throw error;
  }
  throw new CliError(
    `cannot listen on unix ${path}: another receiver is listening there`,
  );
}

/** Removes our socket file on exit, unless it is no longer ours. */
export function removeSocketLater(path: string): () => void {
  let ino: number | null = null;
  try {
    ino = Deno.lstatSync(path).ino;
  } catch {
    // gone already
  }
  const cleanup = () => {
    cleanups.delete(cleanup);
    try {
      if (ino !== null && Deno.lstatSync(path).ino === ino) {
        Deno.removeSync(path);
      }
    } catch {
      // removed by the listener's close, or not ours to remove
    }
  };
  cleanups.add(cleanup);
  return cleanup;
}
