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
  type FrameBatch,
  Handler,
  type HandlerOptions,
  TransmitError,
} from "./handler.ts";

/** Options of {@linkcode DatagramHandler}. */
export type DatagramHandlerOptions = HandlerOptions;

/**
 * Largest UDP payload over IPv4 (65,535 less the IP and UDP headers). A
 * record whose frame is larger cannot be sent as one datagram.
 */
export const MAX_DATAGRAM_BYTES = 65_507;

/**
 * Sends each record as one UDP datagram to a Python receiver, as CPython's
 * `logging.handlers.DatagramHandler` does: the same frame as
 * `SocketHandler` (length prefix included), one per datagram, no
 * connection and no retry. One socket serves every record. A record whose
 * frame exceeds {@linkcode MAX_DATAGRAM_BYTES} is reported through
 * `handleError` and counted in `stats.failed`, never sent truncated.
 *
 * Permissions: `--allow-net`.
 *
 * @example Log over UDP
 * ```ts ignore
 * import { DatagramHandler } from "@pysocklog/pysocklog";
 *
 * await using handler = new DatagramHandler("localhost", 9021);
 * handler.handle({ name: "app", levelname: "INFO", msg: "tick" });
 * ```
 */
export class DatagramHandler extends Handler {
  /** Receiver host. */
  readonly host: string;
  /** Receiver port. */
  readonly port: number;
  /** CPython's DatagramHandler does not close its socket on errors. */
  closeOnError = false;
  /** The UDP socket, once the first record was sent. */
  sock: dgram.Socket | null = null;
  #opening: Promise<boolean> | null = null;

  /**
   * Makes the handler; the socket is made on the first record.
   *
   * @param host Receiver host name or address.
   * @param port Receiver port (CPython's default is 9021).
   * @param options Queue and error options.
   */
  constructor(
    host: string,
    port: number,
    options: DatagramHandlerOptions = {},
  ) {
    super(options);
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
    const sock = dgram.createSocket(type);
    return new Promise((resolve, reject) => {
      sock.once("error", reject);
      sock.connect(this.port, this.host, () => {
        sock.off("error", reject);
        sock.on("error", (error) => this.handleError(undefined, error));
        resolve(sock);
      });
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

  /** Creates the UDP socket once; reports and returns false when that fails. */
  protected override async ensureOpen(): Promise<boolean> {
    if (this.sock !== null) return true;
    this.#opening ??= this.makeSocket().then((sock) => {
      this.sock = sock;
      return true;
    }, (error) => {
      this.handleError(undefined, error);
      return false;
    }).finally(() => {
      this.#opening = null;
    });
    return await this.#opening;
  }

  /** Sends each frame as one datagram. */
  protected override transmit(batch: FrameBatch): Promise<void> {
    const sock = this.sock;
    if (sock === null) return Promise.reject(new TransmitError(0, "no socket"));
    sock.ref(); // sends in flight keep the program alive; an idle socket does not
    // Views of the batch, which stays as it is until every send called back.
    const frames: Uint8Array[] = [];
    for (
      let i = 0, pos = 0;
      i < batch.lengths.length;
      pos += batch.lengths[i++]
    ) {
      frames.push(batch.data.subarray(pos, pos + batch.lengths[i]));
    }
    return new Promise((resolve, reject) => {
      let pending = frames.length;
      let sent = 0;
      let failure: unknown = null;
      const done = (error: Error | null) => {
        if (error === null) sent++;
        else failure ??= error;
        if (--pending > 0) return;
        sock.unref();
        if (failure === null) resolve();
        else reject(new TransmitError(sent, failure, true));
      };
      for (const frame of frames) {
        sock.send(frame, (error) => {
          if (error) this.handleError(undefined, error);
          done(error ?? null);
        });
      }
    });
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
