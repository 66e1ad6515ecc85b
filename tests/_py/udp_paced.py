"""Sends N datagrams of 600 bytes to 127.0.0.1:PORT at RATE a second,
starting after DELAY seconds; each starts with its 4-byte big-endian
sequence number. Prints N.

usage: udp_paced.py PORT N RATE DELAY"""
import socket
import sys
import time

port, n, rate, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
pad = b"x" * 596
time.sleep(delay)
start = time.perf_counter()
for i in range(n):
    while time.perf_counter() - start < i / rate:
        pass
    s.sendto(i.to_bytes(4, "big") + pad, ("127.0.0.1", port))
print(n)
