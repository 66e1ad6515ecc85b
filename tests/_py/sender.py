"""CPython's own handlers as senders, for testing our receiver.

usage: sender.py tcp PORT N | udp PORT N | unix PATH N

Logs N records through logging.handlers.SocketHandler (or DatagramHandler),
with extra= fields of many types and, every 10th record, an exception with
its traceback. For each record it prints the dict exactly as the handler
pickled it (json, one per line), so the test can compare field by field.
"""
import datetime
import json
import logging
import logging.handlers
import pickle
import sys


def capturing(base):
    class Capturing(base):
        def makePickle(self, record):
            s = super().makePickle(record)
            d = pickle.loads(s[4:])
            # JSON has no bytes, no exact big ints and no datetimes: the test
            # maps what it received the same way (bytes -> list of ints,
            # ints past 2**53 -> str) and checks `when` on its own.
            d["_has_when"] = d.pop("when", None) is not None
            if "blob" in d:
                d["blob"] = list(d["blob"])
            if "big" in d:
                d["big"] = str(d["big"])
            sys.stdout.write(json.dumps(d) + "\n")
            return s

    return Capturing


def main():
    kind, where, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if kind == "tcp":
        handler = capturing(logging.handlers.SocketHandler)("127.0.0.1", int(where))
    elif kind == "unix":
        handler = capturing(logging.handlers.SocketHandler)(where, None)
    else:
        handler = capturing(logging.handlers.DatagramHandler)("127.0.0.1", int(where))
    log = logging.getLogger("py.sender")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    log.addHandler(handler)
    for i in range(n):
        extra = {
            "seq": i,
            "user": "ålice \U0001f600",
            "ratio": i / 3,
            "big": 2**100 + i,
            "neg": -(2**40),
            "flags": [True, False, None],
            "pair": (i, "x"),
            "nested": {"a": [1, {"b": "c"}], "k": {"deep": [[]]}},
            "blob": b"\x00\x01\xff" * 3,
            "empty": "",
        }
        if i % 10 == 0:
            try:
                {}["missing"]
            except KeyError:
                log.exception("failed %d of %s", i, "batch", extra=extra)
        elif i % 10 == 5:
            extra["when"] = datetime.datetime(2024, 1, 2, 3, 4, 5)
            log.warning("with a datetime %d", i, extra=extra)
        else:
            log.log([10, 20, 30, 40, 50][i % 5], "record %d: %s", i, "x" * (i % 7), extra=extra)
    handler.close()


main()
