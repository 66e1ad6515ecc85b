// Copyright the pysocklog authors. MIT license.
// The whole loop in one command (`deno task demo`, needs only --allow-net):
// an embedded receiver listens where Python's socket receiver would, and
// this package's SocketHandler and DatagramHandler log to it in Python's
// wire format. Point a Python receiver at the same port and it would print
// the same records; point Python's SocketHandler at `deno task listen`
// and you see Python's records here.

import { DatagramHandler, SocketHandler } from "./mod.ts";
import { listen } from "./receiver.ts";
import { formatRecord } from "./cli.ts";

const color = Deno.stdout.isTerminal() && !Deno.noColor;
const print = (text: string) => console.log(text);

await using tcp = await listen({ port: 0 });
await using udp = await listen({ transport: "udp", port: 0 });
const tcpPort = (tcp.addr as Deno.NetAddr).port;
const udpPort = (udp.addr as Deno.NetAddr).port;
print(`receiver: TCP 127.0.0.1:${tcpPort}, UDP 127.0.0.1:${udpPort}\n`);

await using net = new SocketHandler("127.0.0.1", tcpPort);
await using dgram = new DatagramHandler("127.0.0.1", udpPort);

// Python-shaped records: %-style args are merged on the way, as
// CPython's makePickle does; extras become attributes on the Python side.
net.handle({
  name: "app",
  levelname: "INFO",
  msg: "service started on port %d",
  args: [8080],
});
net.handle({
  name: "app.db",
  levelname: "WARN",
  msg: "slow query: %.1f ms",
  args: [1234.5678],
  sql: "select * from users", // keys that are not LogRecord attributes are extras
  rows: 42,
});
try {
  JSON.parse("{not json");
} catch (error) {
  net.handle({
    name: "app.api",
    levelname: "ERROR",
    msg: "bad request body",
    exc_info: error,
  });
}
dgram.handle({
  name: "app.metrics",
  levelname: "DEBUG",
  msg: "heartbeat %s",
  args: ["ok"],
});

let received = 0;
for await (const record of tcp) {
  print(formatRecord(record, { color })); // extras show as key=value
  if (++received === 3) break;
}
for await (const record of udp) {
  print(formatRecord(record, { color }) + "    (over UDP)");
  break;
}

await net.flush();
const s = net.stats;
print(
  `\nSocketHandler: emitted ${s.emitted}, sent ${s.sent}, dropped ${s.dropped}; ` +
    `DatagramHandler: sent ${dgram.stats.sent}; receiver: ${
      tcp.stats.records + udp.stats.records
    } records, ` +
    `${tcp.stats.bytes + udp.stats.bytes} bytes`,
);
