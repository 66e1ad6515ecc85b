"""A CPython UDP receive loop, as the cookbook's UDP receiver: recv, strip
the 4-byte length, pickle.loads + logging.makeLogRecord ("plain": recv
only, decoding nothing). Prints "PORT n"; on a line on stdin, once the count
stands still, prints the datagrams received, exits.

usage: udp_recv.py [plain]"""
import logging
import os
import pickle
import socket
import sys
import threading
import time

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print("PORT %d" % s.getsockname()[1], flush=True)
count = [0]


def report():
    sys.stdin.readline()
    # As ours: once the count stands still (200 ms, at most 3 s).
    last = -1
    for _ in range(15):
        if count[0] == last:
            break
        last = count[0]
        time.sleep(0.2)
    print(count[0], flush=True)
    os._exit(0)


threading.Thread(target=report, daemon=True).start()
if sys.argv[1:] == ["plain"]:
    while True:
        s.recv(65536)
        count[0] += 1
while True:
    data = s.recv(65536)
    logging.makeLogRecord(pickle.loads(data[4:]))
    count[0] += 1
