"""udp_sender.py with a timeline: sends real CPython DatagramHandler frames
to 127.0.0.1:PORT at RATE datagrams/s for SECONDS, paced every 0.5 ms, and
after each tick reads the socket's line of /proc/net/udp (rx_queue bytes,
drops). Writes one line per tick to OUT: ms since the first send, datagrams
sent so far, rx_queue bytes, kernel drops. Prints the count sent and the
wall-clock time (epoch ms) of the first send.

usage: udp_probe_sender.py PORT RATE SECONDS OUT"""
import logging, logging.handlers, socket, sys, time
port, rate, secs, out = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
h = logging.handlers.DatagramHandler("127.0.0.1", port)
frames = []
for i in range(1000):
    r = logging.LogRecord("app.mod%d" % (i % 20), 20, "/srv/app/x.py", i, "request %d done in %.2f ms", (i, i * 0.37), None, "handle")
    r.user = "u%d" % i
    frames.append(h.makePickle(r))
want = "0100007F:%04X" % port
proc = open("/proc/net/udp", "rb", buffering=0)


def probe():
    proc.seek(0)
    for line in proc.read().decode().splitlines():
        c = line.split()
        if len(c) > 4 and c[1] == want:
            return int(c[4].split(":")[1], 16), int(c[-1])
    return -1, -1


s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
addr = ("127.0.0.1", port)
n = int(rate * secs)
rows = []
wall0 = time.time()
t0 = time.perf_counter()
sent = 0
while sent < n:
    due = int((time.perf_counter() - t0) * rate) + 1
    due = min(due, n)
    while sent < due:
        s.sendto(frames[sent % 1000], addr)
        sent += 1
    q, d = probe()
    rows.append("%.3f %d %d %d" % ((time.perf_counter() - t0) * 1e3, sent, q, d))
    if sent < n:
        time.sleep(0.0005)
for _ in range(100):
    time.sleep(0.002)
    q, d = probe()
    rows.append("%.3f %d %d %d" % ((time.perf_counter() - t0) * 1e3, sent, q, d))
with open(out, "w") as f:
    f.write("\n".join(rows) + "\n")
print(sent, "%.3f" % (wall0 * 1e3))
