"""Sends hostile and ordinary records to a pysocklog listener, as a peer on
the network could: `cli_records.py PORT CASE...`. Hostile cases are framed
by hand (CPython's SocketHandler would turn a non-str msg into str); the
`normal` case goes through CPython's own SocketHandler."""
import logging
import logging.handlers
import pickle
import socket
import struct
import sys
import time


def base(name, msg):
    return {"name": name, "msg": msg, "args": None, "levelname": "INFO",
            "levelno": 20, "created": time.time(), "msecs": 0.0,
            "exc_info": None, "exc_text": None, "stack_info": None}


def dag():
    # 60 levels of [x, x]: 2^60 leaves, a few hundred bytes with the memo.
    x = None
    for _ in range(60):
        x = [x, x]
    d = base("hostile.dag", "dag")
    d["dag"] = x
    return d


def cycle():
    loop = []
    loop.append(loop)
    d = base("hostile.cycle", "cycle")
    d["loop"] = loop
    inner = {}
    inner["self"] = inner
    d["inner"] = inner
    d["me"] = d  # the record itself
    return d


def keys():
    d = base("hostile.keys", {"toString": 1, "valueOf": 2, "constructor": 3})
    d["toString"] = 1
    d["valueOf"] = "v"
    d["__proto__"] = {"polluted": True}
    d["constructor"] = "c"
    d["toJSON"] = "j"
    d["hasOwnProperty"] = 0
    d["nested"] = {"toString": {"toString": 2}, "__proto__": [1]}
    return d


def big():
    d = base("hostile.big", "x" * 1_000_000)
    d["blob"] = b"\x00\x01" * 500_000
    d["many"] = list(range(200_000))
    return d


def raw():
    d = base("hostile.bytes", "bytes")
    d["raw"] = b"\x00\x01hi"
    return d


CASES = {"dag": dag, "cycle": cycle, "keys": keys, "big": big, "bytes": raw}


def main():
    port = int(sys.argv[1])
    sock = socket.create_connection(("127.0.0.1", port))
    for case in sys.argv[2:]:
        if case == "normal":
            continue
        s = pickle.dumps(CASES[case](), 1)
        sys.stderr.write(f"{case}: {len(s)} bytes\n")
        sock.sendall(struct.pack(">L", len(s)) + s)
    sock.close()
    if "normal" in sys.argv[2:]:
        h = logging.handlers.SocketHandler("127.0.0.1", port)
        log = logging.getLogger("app.db")
        log.propagate = False
        log.addHandler(h)
        log.setLevel(logging.INFO)
        log.info("after %s", "hostile", extra={"user": "ann"})
        h.close()


main()
