"""Replays a file of frames to 127.0.0.1:PORT as fast as the receiver
takes them (sendall of 64 KiB slices), as a SocketHandler would write them.

usage: replay.py PORT PATH"""
import socket
import sys

port, path = int(sys.argv[1]), sys.argv[2]
data = open(path, "rb").read()
s = socket.create_connection(("127.0.0.1", port))
view = memoryview(data)
for off in range(0, len(data), 65536):
    s.sendall(view[off:off + 65536])
s.close()
