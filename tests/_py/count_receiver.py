"""A fast CPython receiver for burst tests: every frame is unpickled with
pickle.loads (a corrupt frame raises) but nothing is printed per record.
Prints "PORT <n>" first; on the line "REPORT" from stdin prints one JSON
line: records (not drop notices), notices, dropped (sum over notices),
seq_errors (records whose `seq` is not the one after the last), seq_back
(records whose `seq` is not above the last: duplicates or disorder),
bad_notices (drop notices not as SPEC.md says), reasons (of the notices),
bytes;
on "SEQS", one JSON list of every `seq` received, in order.

With --print-seqs it also prints "S <seq>,<seq>,..." as records arrive
(so that what a receiver killed mid-stream had received is known).

usage: count_receiver.py [PORT] [--print-seqs]
"""
import json
import logging
import pickle
import socket
import struct
import sys
import threading

print_seqs = "--print-seqs" in sys.argv
args = [a for a in sys.argv[1:] if a != "--print-seqs"]

lock = threading.Lock()
seqs = []
state = {"records": 0, "notices": 0, "dropped": 0, "seq_errors": 0, "seq_back": 0, "bad_notices": 0, "reasons": [], "bytes": 0, "last_seq": -1, "errors": 0}


def serve(conn):
    buf = bytearray()
    while True:
        try:
            chunk = conn.recv(1 << 20)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
        pos = 0
        n = len(buf)
        recs = []
        while n - pos >= 4:
            (slen,) = struct.unpack_from(">L", buf, pos)
            if n - pos - 4 < slen:
                break
            recs.append(pickle.loads(bytes(buf[pos + 4:pos + 4 + slen])))
            pos += 4 + slen
        del buf[:pos]
        with lock:
            if print_seqs:
                got = [str(d["seq"]) for d in recs if d.get("seq") is not None]
                if got:
                    sys.stdout.write("S " + ",".join(got) + "\n")
                    sys.stdout.flush()
            state["bytes"] += pos
            for d in recs:
                if d.get("name") == "pysocklog":
                    state["notices"] += 1
                    state["dropped"] += d["dropped"]
                    r = logging.makeLogRecord(d)
                    if r.reason not in state["reasons"]:
                        state["reasons"].append(r.reason)
                    if not (r.levelno == 30 and r.levelname == "WARNING" and type(r.dropped) is int
                            and type(r.reason) is str
                            and r.getMessage() == "%d log records were dropped (%s)" % (r.dropped, r.reason)):
                        state["bad_notices"] += 1
                    continue
                state["records"] += 1
                seq = d.get("seq")
                if seq is not None:
                    seqs.append(seq)
                    if seq != state["last_seq"] + 1:
                        state["seq_errors"] += 1
                    if seq <= state["last_seq"]:
                        state["seq_back"] += 1
                    state["last_seq"] = seq
    conn.close()


def accept(server):
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def main():
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", int(args[0]) if args else 0))
    server.listen(16)
    print("PORT", server.getsockname()[1], flush=True)
    threading.Thread(target=accept, args=(server,), daemon=True).start()
    for line in sys.stdin:
        if line.strip() == "REPORT":
            with lock:
                print(json.dumps(state), flush=True)
        elif line.strip() == "SEQS":
            with lock:
                print(json.dumps(seqs), flush=True)


main()
