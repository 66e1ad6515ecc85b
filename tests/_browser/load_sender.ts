// Sends RATE records/s for SECONDS to 127.0.0.1:PORT through our
// SocketHandler with default options, as a busy service would: varied
// loggers, levels, messages, extras, and now and then a traceback. The
// clock sets the pace (every 10 ms it sends what is due), so a slow tick is
// made up by the next one. Prints its handler's stats as JSON at the end.
//
// usage: deno run --allow-net load_sender.ts PORT RATE SECONDS
import { SocketHandler } from "../../mod.ts";

const [port, rate, seconds] = Deno.args.map(Number);
const TICK_MS = 10;
const LOGGERS = [
  "api",
  "api.http",
  "api.http.auth",
  "api.grpc",
  "db",
  "db.pool",
  "db.query",
  "cache.redis",
  "worker.billing",
  "worker.email",
  "worker.email.smtp",
  "scheduler",
];
const LEVELS = ["DEBUG", "INFO", "INFO", "INFO", "WARNING", "ERROR"];
const FUNCS = ["handle", "fetch_user", "commit", "retry", "render", "poll"];

const handler = new SocketHandler("127.0.0.1", port);
const total = rate * seconds;
const start = performance.now();
let sent = 0;
while (sent < total) {
  const due = Math.min(
    total,
    Math.floor((performance.now() - start) * rate / 1000),
  );
  for (; sent < due; sent++) {
    const i = sent;
    const record: Record<string, unknown> = {
      name: LOGGERS[i % LOGGERS.length],
      levelname: LEVELS[(i * 7) % LEVELS.length],
      msg: "request %d for user %s took %.1f ms",
      args: [i, `u${i % 977}`, (i % 1000) / 7],
      pathname: `/srv/app/${
        LOGGERS[i % LOGGERS.length].replace(/\./g, "/")
      }.py`,
      lineno: 10 + (i % 400),
      funcName: FUNCS[i % FUNCS.length],
      seq: i,
      request_id: `req-${(i * 2654435761 >>> 0).toString(16)}`,
    };
    if (i % 250 === 0) record.exc_info = new Error(`failure ${i}`);
    handler.handle(record);
  }
  await new Promise((r) => setTimeout(r, TICK_MS));
}
await handler.close();
console.log(JSON.stringify({
  seconds: (performance.now() - start) / 1000,
  ...handler.stats,
}));
