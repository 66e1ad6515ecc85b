"""A Python log receiver in the logging cookbook's style: each frame is
logging.makeLogRecord(pickle.loads(chunk)). Prints "PORT <n>" (or "READY")
first, then one JSON line per record: its __dict__, plus "_message" (what
getMessage() gives) and "_types" (the type name of each attribute).

usage: receiver.py tcp [PORT] | unix PATH | udp [PORT]
"""
import json
import logging
import pickle
import socket
import socketserver
import struct
import sys
import threading

lock = threading.Lock()


def emit(record):
    d = dict(record.__dict__)
    d["_message"] = record.getMessage()
    d["_types"] = {k: type(v).__name__ for k, v in record.__dict__.items()}
    line = json.dumps(d, default=str)
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class StreamHandler(socketserver.StreamRequestHandler):
    # As the cookbook's LogRecordStreamHandler.
    def handle(self):
        while True:
            chunk = self.connection.recv(4)
            if len(chunk) < 4:
                break
            slen = struct.unpack(">L", chunk)[0]
            chunk = self.connection.recv(slen)
            while len(chunk) < slen:
                more = self.connection.recv(slen - len(chunk))
                if not more:
                    return  # a cut frame at EOF: dropped, as the cookbook would fail on it
                chunk = chunk + more
            emit(logging.makeLogRecord(pickle.loads(chunk)))


class DatagramHandler(socketserver.BaseRequestHandler):
    # As the cookbook's UDP receiver: strip the 4-byte length.
    def handle(self):
        data = self.request[0]
        emit(logging.makeLogRecord(pickle.loads(data[4:])))


class TCP(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class Unix(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


def main():
    kind = sys.argv[1]
    if kind == "tcp":
        server = TCP(("127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 0), StreamHandler)
        print("PORT", server.server_address[1], flush=True)
    elif kind == "unix":
        server = Unix(sys.argv[2], StreamHandler)
        print("READY", flush=True)
    else:
        server = socketserver.UDPServer(("127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 0), DatagramHandler)
        server.max_packet_size = 65536
        print("PORT", server.server_address[1], flush=True)
    server.serve_forever()


main()
