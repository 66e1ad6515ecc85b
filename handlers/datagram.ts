// Copyright the pysocklog authors. MIT license.
/**
 * `DatagramHandler`: CPython's `logging.handlers.DatagramHandler` over UDP,
 * on `node:dgram` (stable in Deno; `Deno.listenDatagram` needs
 * `--unstable-net`).
 *
 * @module
 */

import dgram from "node:dgram";
import {
  checkAddress,
  type FrameBatch,
  Handler,
  type HandlerOptions,
  TransmitError,
} from "./handler.ts";
import type { RetryOptions } from "./_options.ts";
import { backOff, initialBackoff, mayAttempt, OneAttempt } from "./_retry.ts";

/**
 * Options of {@linkcode DatagramHandler}: the retry options apply to making
 * its socket (a failed lookup), as CPython's DatagramHandler inherits
 * `createSocket`.
 */
export interface DatagramHandlerOptions extends HandlerOptions, RetryOptions {}

/**
 * Largest UDP payload over IPv4 (65,535 less the IP and UDP headers). A
 * record whose frame is larger cannot be sent as one datagram.
 */
export const MAX_DATAGRAM_BYTES = 65_507;

/**
 * Whether this program may use `host` ("addr:port") over the network:
 * granted, or granted at Deno's prompt.
 */
function netAllowed(host: string): boolean {
  try {
    const status = Deno.permissions.querySync({ name: "net", host });
    if (status.state === "granted") return true;
    if (status.state === "denied") return false;
    return Deno.permissions.requestSync({ name: "net", host }).state ===
      "granted";
  } catch {
    return true; // cannot tell: let the socket say
  }
}

/**
 * Sends each record as one UDP datagram to a Python receiver, as CPython's
 * `logging.handlers.DatagramHandler` does: the same frame as
 * `SocketHandler` (length prefix included), one per datagram, no
 * connection. One socket serves every record; when it cannot be made (a
 * failed lookup), CPython's backoff applies (`retryStart`, `retryFactor`,
 * `retryMax`) and records are dropped (counted) until the next attempt. A record whose
 * frame exceeds {@linkcode MAX_DATAGRAM_BYTES} is reported through
 * `handleError` and counted in `stats.failed`, never sent truncated.
 *
 * Permissions: `--allow-net`; a narrower one must name `0.0.0.0:0` (or
 * `[::]:0`), where the socket binds, besides the receiver.
 *
 * @example Log over UDP
 * ```ts
 * import { DatagramHandler } from "@pysocklog/pysocklog";
 * import { listen } from "@pysocklog/pysocklog/receiver";
 * import { equal } from "node:assert/strict";
 *
 * // A UDP receiver on a free port, as the cookbook's on 9021.
 * await using receiver = await listen({ transport: "udp", port: 0 });
 * const { port } = receiver.addr as Deno.NetAddr;
 *
 * const handler = new DatagramHandler("127.0.0.1", port);
 * handler.handle({ name: "app", levelname: "INFO", msg: "tick" });
 * await handler.close();
 *
 * for await (const record of receiver) {
 *   equal(record.msg, "tick");
 *   break;
 * }
 * ```
 */
export class DatagramHandler extends Handler {
  /** Receiver host. */
  readonly host: string;
  /** Receiver port. */
  readonly port: number;
  /** CPython's DatagramHandler does not close its socket on errors. */
  closeOnError = false;
  /** Seconds before the first retry after the socket could not be made. */
  retryStart: number;
  /** Most seconds between retries. */
  retryMax: number;
  /** Factor between retries. */
  retryFactor: number;
  /** When the next attempt to make the socket may be made (epoch seconds), or null: now. */
  retryTime: number | null = null;
  /** Seconds of the current wait between attempts. */
  retryPeriod: number;
  /** The UDP socket, once the first record was sent. */
  sock: dgram.Socket | null = null;
  /** The attempt to open the socket under way, if any. */
  readonly #attempts = new OneAttempt();
  /** Deno's permissions refuse the socket: no attempt can succeed. */
  #denied = false;

  /**
   * Makes the handler; the socket is made on the first record.
   *
   * @param host Receiver host name or address.
   * @param port Receiver port (CPython's default is 9021).
   * @param options Queue, retry and error options.
   * @throws {RangeError} For an impossible port, an empty host, or a retry
   * value or queue bound that is not a positive number.
   */
  constructor(
    host: string,
    port: number,
    options: DatagramHandlerOptions = {},
  ) {
    super(options);
    const backoff = initialBackoff(options ?? {});
    this.retryStart = backoff.retryStart;
    this.retryMax = backoff.retryMax;
    this.retryFactor = backoff.retryFactor;
    this.retryPeriod = backoff.retryPeriod;
    if (port === null) {
      // SocketHandler's null is a Unix socket; UDP has none.
      throw new RangeError(
        "port must be an integer from 1 to 65535: received null",
      );
    }
    checkAddress(host, port);
    this.host = host;
    this.port = port;
  }

  /**
   * Makes the UDP socket, connected to the receiver so that each send needs
   * no address lookup: the factory a subclass overrides.
   *
   * @returns The socket.
   */
  makeSocket(): Promise<dgram.Socket> {
    const type = this.host.includes(":") ? "udp6" : "udp4";
    // node:dgram binds to the wildcard address and checks that permission
    // inside a nextTick: without it, an uncaught NotCapable ended the
    // program (also with --allow-net for the receiver's address only).
    const bind = type === "udp6" ? "[::]:0" : "0.0.0.0:0";
    const peer = type === "udp6"
      ? `[${this.host}]:${this.port}`
      : `${this.host}:${this.port}`;
    for (const host of [bind, peer]) {
      if (!netAllowed(host)) {
        return Promise.reject(
          new Deno.errors.NotCapable(
            `Requires net access to "${host}" for the UDP socket, run again with --allow-net (or --allow-net=${bind},${peer})`,
          ),
        );
      }
    }
    const sock = dgram.createSocket(type);
    sock.unref(); // an idle or unclosed handler must not keep the program alive
    return new Promise((resolve, reject) => {
      const fail = (error: unknown) => {
        try {
          sock.close();
        } catch {
          // not open
        }
        reject(error);
      };
      sock.once("error", fail);
      try {
        // The callback gets the lookup's error, if any (a bad hostname):
        // ignoring it sent on an unconnected socket in a tight loop.
        sock.connect(this.port, this.host, (error?: unknown) => {
          sock.off("error", fail);
          if (error) return fail(error);
          sock.on("error", (e) => this.handleError(undefined, e));
          resolve(sock);
        });
      } catch (error) {
        fail(error);
      }
    });
  }

  /** Refuses a frame larger than one UDP datagram ({@linkcode MAX_DATAGRAM_BYTES}). */
  protected override checkFrame(length: number): void {
    if (length > MAX_DATAGRAM_BYTES) {
      throw new RangeError(
        `Record frame is ${length} bytes; a UDP datagram holds at most ${MAX_DATAGRAM_BYTES}`,
      );
    }
    super.checkFrame(length);
  }

  /**
   * One attempt to make the socket, as CPython's `createSocket`: none
   * before `retryTime`; on failure (a failed lookup) the wait starts at
   * `retryStart` and is multiplied by `retryFactor` up to `retryMax`, and
   * `retryTime` is set to now plus the wait; on success `retryTime` is null
   * again. A failure is reported, and what is queued is dropped (counted,
   * and told to the receiver by a drop notice once a socket is made).
   */
  createSocket(): Promise<void> {
    return this.#attempts.run(() => this.#createSocket());
  }

  async #createSocket(): Promise<void> {
    const now = Date.now() / 1000;
    if (this.sock !== null || this.closed || this.#denied) return;
    if (!mayAttempt(this, now)) return;
    try {
      const sock = await this.makeSocket();
      if (this.closed) {
        sock.close();
        return;
      }
      this.sock = sock;
      this.retryTime = null;
    } catch (error) {
      backOff(this, now);
      this.handleError(undefined, error);
      if (error instanceof Deno.errors.NotCapable) {
        // No attempt can succeed: records are dropped (counted) from now
        // on, with no notice (none can reach the receiver).
        this.#denied = true;
        this.dropQueued(null);
      } else {
        this.dropQueued("send failed");
      }
    }
  }

  /** Makes the UDP socket unless it exists (createSocket); false when there is none. */
  protected override async ensureOpen(): Promise<boolean> {
    if (this.sock === null) await this.createSocket();
    return this.sock !== null;
  }

  /** Drops records while the socket cannot be made (after a failed lookup). */
  protected override shouldDrop(): boolean {
    return this.#denied ||
      (this.sock === null && !mayAttempt(this, Date.now() / 1000));
  }

  /** None once Deno's permissions refused the socket (no notice can follow). */
  protected override dropReason(): string | null {
    return this.#denied ? null : super.dropReason();
  }

  /**
   * Sends each frame as one datagram, one after another: `node:dgram`
   * sends made together leave in no fixed order (150 sends in one turn
   * arrived 140, 139, ..., 13, 0, ..., 12, 141, ...), so each send waits
   * for the one before it.
   */
  protected override async transmit(batch: FrameBatch): Promise<void> {
    const sock = this.sock;
    if (sock === null) throw new TransmitError(0, "no socket");
    sock.ref(); // sends in flight keep the program alive; an idle socket does not
    try {
      const lengths = batch.lengths;
      for (let i = 0, pos = 0; i < lengths.length; pos += lengths[i++]) {
        // A view of the batch, which stays as it is until this returns.
        const frame = batch.data.subarray(pos, pos + lengths[i]);
        try {
          await new Promise<void>((resolve, reject) => {
            sock.send(frame, (error) => error ? reject(error) : resolve());
          });
        } catch (error) {
          this.handleError(undefined, error);
          throw new TransmitError(i, error, true);
        }
      }
    } finally {
      sock.unref();
    }
  }

  /** Closes the UDP socket. */
  protected override closeTransport(): void {
    const sock = this.sock;
    this.sock = null;
    try {
      sock?.close();
    } catch {
      // already closed
    }
  }

  /** Always 0: UDP has no connection to reopen. */
  protected override reconnectCount(): number {
    return 0;
  }

  /** Whether the UDP socket exists. */
  protected override isConnected(): boolean {
    return this.sock !== null;
  }
}
