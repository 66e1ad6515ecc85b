"""Sends real CPython DatagramHandler frames (makePickle: length prefix
included) of 1,000 varied records to 127.0.0.1:PORT at RATE datagrams/s
for SECONDS, paced every 0.5 ms. Prints the count sent.

usage: udp_sender.py PORT RATE SECONDS"""
import logging, logging.handlers, socket, sys, time
port, rate, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
h = logging.handlers.DatagramHandler("127.0.0.1", port)
frames = []
for i in range(1000):
    r = logging.LogRecord("app.mod%d" % (i % 20), 20, "/srv/app/x.py", i, "request %d done in %.2f ms", (i, i * 0.37), None, "handle")
    r.user = "u%d" % i
    frames.append(h.makePickle(r))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
addr = ("127.0.0.1", port)
n = int(rate * secs)
t0 = time.perf_counter()
sent = 0
while sent < n:
    due = int((time.perf_counter() - t0) * rate) + 1
    due = min(due, n)
    while sent < due:
        s.sendto(frames[sent % 1000], addr)
        sent += 1
    if sent < n:
        time.sleep(0.0005)
print(sent)
