"""Sends real CPython DatagramHandler frames (makePickle: length prefix
included) of 1,000 varied records to 127.0.0.1:PORT at RATE datagrams/s
for SECONDS, paced every 0.5 ms. Prints the count sent.

With OUT, a timeline too: after each tick (and for 200 ms after the last)
it reads the socket's line of /proc/net/udp (rx_queue bytes, drops) and
writes one line per tick to OUT: ms since the first send, datagrams sent so
far, rx_queue bytes, kernel drops; it then also prints the wall-clock time
(epoch ms) of the first send.

usage: udp_sender.py PORT RATE SECONDS [OUT]"""
import logging, logging.handlers, socket, sys, time
port, rate, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
out = sys.argv[4] if len(sys.argv) > 4 else None
h = logging.handlers.DatagramHandler("127.0.0.1", port)
frames = []
for i in range(1000):
    r = logging.LogRecord("app.mod%d" % (i % 20), 20, "/srv/app/x.py", i, "request %d done in %.2f ms", (i, i * 0.37), None, "handle")
    r.user = "u%d" % i
    frames.append(h.makePickle(r))
want = "0100007F:%04X" % port
proc = open("/proc/net/udp", "rb", buffering=0) if out else None


def probe():
    proc.seek(0)
    for line in proc.read().decode().splitlines():
        c = line.split()
        if len(c) > 4 and c[1] == want:
            return int(c[4].split(":")[1], 16), int(c[-1])
    return -1, -1


rows = []


def tick():
    if out:
        q, d = probe()
        rows.append("%.3f %d %d %d" % ((time.perf_counter() - t0) * 1e3, sent, q, d))


s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
addr = ("127.0.0.1", port)
n = int(rate * secs)
wall0 = time.time()
t0 = time.perf_counter()
sent = 0
while sent < n:
    due = int((time.perf_counter() - t0) * rate) + 1
    due = min(due, n)
    while sent < due:
        s.sendto(frames[sent % 1000], addr)
        sent += 1
    tick()
    if sent < n:
        time.sleep(0.0005)
if out:
    for _ in range(100):
        time.sleep(0.002)
        tick()
    with open(out, "w") as f:
        f.write("\n".join(rows) + "\n")
    print(sent, "%.3f" % (wall0 * 1e3))
else:
    print(sent)
