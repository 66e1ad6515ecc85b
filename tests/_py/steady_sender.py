"""A legitimate CPython SocketHandler sender for the receiver's attack tests.

usage: steady_sender.py PORT NAME SECONDS INTERVAL_MS
Logs records named NAME (seq 0, 1, ...) every INTERVAL_MS (0: flat out) for
SECONDS, then prints one JSON line: sent, failures (sends that raised, as a
socket timeout: CPython's SocketHandler drops that record and closes the
socket), connects, and the slowest send in ms.
"""
import json
import logging
import logging.handlers
import sys
import time

port, name, secs, interval = (
    int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))


class CountingSocketHandler(logging.handlers.SocketHandler):
    # CPython's send, counting what it would drop silently.
    failures = 0
    connects = 0
    slowest = 0.0

    def makeSocket(self, timeout=1):
        s = super().makeSocket(timeout)
        self.connects += 1
        return s

    def send(self, s):
        t0 = time.perf_counter()
        if self.sock is None:
            self.createSocket()
        if self.sock:
            try:
                self.sock.sendall(s)
            except OSError:
                self.failures += 1
                self.sock.close()
                self.sock = None
        else:
            self.failures += 1
        self.slowest = max(self.slowest, time.perf_counter() - t0)


h = CountingSocketHandler("127.0.0.1", port)
log = logging.getLogger(name)
log.propagate = False
log.addHandler(h)
log.setLevel(logging.INFO)
end = time.time() + secs
seq = 0
while time.time() < end:
    log.info("record %d from %s", seq, name, extra={"seq": seq, "client": name})
    seq += 1
    if interval > 0:
        time.sleep(interval / 1000)
h.close()
print(json.dumps({"sent": seq, "failures": h.failures, "connects": h.connects,
                  "slowest_ms": round(h.slowest * 1000, 1)}))
