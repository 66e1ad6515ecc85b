"""Sends N real CPython DatagramHandler frames (makePickle: length prefix
included) to 127.0.0.1:PORT as fast as it can. Prints N.

usage: udp_blast.py PORT N"""
import logging
import logging.handlers
import socket
import sys

port, n = int(sys.argv[1]), int(sys.argv[2])
h = logging.handlers.DatagramHandler("127.0.0.1", port)
frames = [h.makePickle(logging.LogRecord("blast", 20, "/srv/x.py", i, "datagram %d", (i,), None))
          for i in range(100)]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    s.sendto(frames[i % 100], ("127.0.0.1", port))
print(n)
