"""The logging cookbook's network receiver (LogRecordSocketReceiver):
ThreadingTCPServer, recv(4) + recv(len) per frame (a split header read
whole), pickle.loads +
logging.makeLogRecord per record. Prints "PORT n"; after TOTAL records,
prints the seconds from the first record to the last and the CPU seconds
used meanwhile, and exits.

usage: cookbook_receiver.py TOTAL"""
import logging
import os
import pickle
import socketserver
import struct
import sys
import threading
import time

total = int(sys.argv[1])
lock = threading.Lock()
state = {"n": 0, "t0": None, "cpu0": 0.0}


def cpu():
    t = os.times()
    return t.user + t.system


class LogRecordStreamHandler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            chunk = self.connection.recv(4)
            # The cookbook stops on a short read here; over a real stream a
            # header can arrive split, so read the rest of it (else records
            # are lost and the run never ends).
            while 0 < len(chunk) < 4:
                more = self.connection.recv(4 - len(chunk))
                if not more:
                    break
                chunk += more
            if len(chunk) < 4:
                break
            slen = struct.unpack(">L", chunk)[0]
            chunk = self.connection.recv(slen)
            while len(chunk) < slen:
                chunk = chunk + self.connection.recv(slen - len(chunk))
            obj = pickle.loads(chunk)
            record = logging.makeLogRecord(obj)
            with lock:
                if state["t0"] is None:
                    state["t0"] = time.perf_counter()
                    state["cpu0"] = cpu()
                state["n"] += 1
                if state["n"] == total:
                    print("%.6f %.2f" % (time.perf_counter() - state["t0"],
                                         cpu() - state["cpu0"]), flush=True)
                    os._exit(0)


class LogRecordSocketReceiver(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


server = LogRecordSocketReceiver(("127.0.0.1", 0), LogRecordStreamHandler)
print("PORT %d" % server.server_address[1], flush=True)
server.serve_forever()
