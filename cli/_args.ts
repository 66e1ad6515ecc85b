// Copyright the pysocklog authors. MIT license.
// The command line of `listen` and `send`, checked up front: every problem
// is one UsageError with a one-line message.

import { getLevelNo } from "../record/levels.ts";
import {
  DEFAULT_MAX_RECORD_CHARS,
  MAX_MAX_RECORD_CHARS,
  MIN_MAX_RECORD_CHARS,
} from "./_render.ts";
import { compileFormat, type LineFormat } from "./_format.ts";

/** A bad command line: exit code 2, one line on stderr. */
export class UsageError extends Error {
  /** @param message What is wrong, in one line. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The options of one command. */
export interface CommandArgs {
  udp: boolean;
  unix?: string;
  host: string;
  port?: number;
  json: boolean;
  /** The lowest level shown (listen) or the level sent (send). */
  level?: number;
  /** Logger name prefixes (listen) or the logger name (send, one). */
  names: string[];
  format?: LineFormat;
  maxChars: number;
  help: boolean;
  /** Messages (send). */
  messages: string[];
}

type Kind = "boolean" | "string";
const OPTIONS: Record<string, Kind> = {
  udp: "boolean",
  unix: "string",
  host: "string",
  port: "string",
  json: "boolean",
  level: "string",
  name: "string",
  format: "string",
  "max-chars": "string",
  help: "boolean",
};
/** The options each command takes. */
const TAKES: Record<string, readonly string[]> = {
  listen: [
    "udp",
    "unix",
    "host",
    "port",
    "json",
    "level",
    "name",
    "format",
    "max-chars",
    "help",
  ],
  send: ["udp", "unix", "host", "port", "level", "name", "help"],
};
/** Options that may be given more than once. */
const MULTIPLE: Record<string, readonly string[]> = { listen: ["name"] };

/** A level name (WARNING, warn) or number (30). */
export function levelOf(text: string): number {
  try {
    const n = getLevelNo(/^\d+$/.test(text) ? Number(text) : text);
    // 99999999999999999999 went out as the float 1e20, not an int.
    if (!Number.isSafeInteger(n)) throw new RangeError("not an exact int");
    return n;
  } catch {
    throw new UsageError(
      `--level must be a level name (DEBUG, INFO, WARNING, ERROR, CRITICAL) or a number, not '${text}'`,
    );
  }
}

/** Quotes a user's argument for an error message (short, one line). */
function q(text: string): string {
  const s = text.length > 40 ? text.slice(0, 40) + "…" : text;
  return JSON.stringify(s);
}

/**
 * Parses the arguments after `listen` or `send`. A value may follow its
 * option (`--port 9020`, even `--port -1`, which is then refused by the
 * check) or be joined to it (`--port=9020`); `--` ends the options.
 */
export function parseCommand(command: string, args: string[]): CommandArgs {
  const values = new Map<string, string[]>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    let name: string;
    let value: string | undefined;
    if (arg === "-h") name = "help";
    else if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      if (eq >= 0) value = arg.slice(eq + 1);
    } else {
      throw new UsageError(`unknown option ${q(arg)}`);
    }
    const kind = OPTIONS[name];
    if (kind === undefined || !TAKES[command].includes(name)) {
      throw new UsageError(
        kind === undefined
          ? `unknown option ${q("--" + name)}`
          : `${command} does not take --${name}`,
      );
    }
    if (kind === "boolean") {
      if (value !== undefined) {
        throw new UsageError(`--${name} takes no value`);
      }
      value = "";
    } else if (value === undefined) {
      if (i + 1 >= args.length) throw new UsageError(`--${name} needs a value`);
      value = args[++i];
    }
    const list = values.get(name) ?? [];
    if (list.length > 0 && !(MULTIPLE[command] ?? []).includes(name)) {
      throw new UsageError(`--${name} given twice`);
    }
    list.push(value);
    values.set(name, list);
  }
  const one = (name: string) => values.get(name)?.[0];
  const flag = (name: string) => values.has(name);

  const help = flag("help");
  const udp = flag("udp");
  const unix = one("unix");
  if (udp && unix !== undefined) {
    throw new UsageError("--udp and --unix cannot go together");
  }
  if (unix !== undefined) {
    if (unix === "") throw new UsageError("--unix needs a socket path");
    if (values.has("host") || values.has("port")) {
      throw new UsageError("--host and --port do not go with --unix");
    }
  }
  const host = one("host") ?? "127.0.0.1";
  if (host === "") throw new UsageError("--host needs a host name or address");
  let port: number | undefined;
  const portText = one("port");
  if (portText !== undefined) {
    port = Number(portText);
    const min = command === "send" ? 1 : 0; // 0 picks a port to listen on
    if (!/^\d{1,5}$/.test(portText) || port > 65535 || port < min) {
      throw new UsageError(
        `--port must be a number from ${min} to 65535, not ${q(portText)}`,
      );
    }
  }
  const levelText = one("level");
  const level = levelText === undefined ? undefined : levelOf(levelText);
  const names = values.get("name") ?? [];
  for (const n of names) {
    if (n === "") throw new UsageError("--name needs a logger name");
  }
  let maxChars = DEFAULT_MAX_RECORD_CHARS;
  const maxText = one("max-chars");
  if (maxText !== undefined) {
    maxChars = Number(maxText);
    if (
      !/^\d+$/.test(maxText) || maxChars < MIN_MAX_RECORD_CHARS ||
      maxChars > MAX_MAX_RECORD_CHARS
    ) {
      throw new UsageError(
        `--max-chars must be a number from ${MIN_MAX_RECORD_CHARS} to ${MAX_MAX_RECORD_CHARS}, not ${
          q(maxText)
        }`,
      );
    }
  }
  const json = flag("json");
  let format: LineFormat | undefined;
  const formatText = one("format");
  if (formatText !== undefined) {
    if (json) throw new UsageError("--json and --format cannot go together");
    try {
      format = compileFormat(formatText, maxChars);
    } catch (error) {
      throw new UsageError(`--format: ${(error as Error).message}`);
    }
  }
  if (command === "listen" && positionals.length > 0 && !help) {
    throw new UsageError(
      `listen takes no arguments, not ${q(positionals[0])}`,
    );
  }
  return {
    udp,
    unix,
    host,
    port,
    json,
    level,
    names,
    format,
    maxChars,
    help,
    messages: positionals,
  };
}
