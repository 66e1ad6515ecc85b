"""CPython's side of bench/makepickle_compare.ts: time pickle.dumps(d, 2) of a
record dict read as JSON on stdin (floats kept as floats), several rounds;
print the median ns per record and CPython's own makePickle-equivalent."""
import json
import logging
import pickle
import struct
import sys
import time

d = json.load(sys.stdin)
for k in ("created", "msecs", "relativeCreated"):
    d[k] = float(d[k])
rounds, n = int(sys.argv[1]), int(sys.argv[2])


def make_pickle(record):
    # CPython's SocketHandler.makePickle, minus the record it builds from.
    dd = dict(record.__dict__)
    dd["msg"] = record.getMessage()
    dd["args"] = None
    dd["exc_info"] = None
    dd.pop("message", None)
    s = pickle.dumps(dd, 1)
    return struct.pack(">L", len(s)) + s


record = logging.makeLogRecord(d)
out = {}
for name, fn in (("dumps2", lambda: pickle.dumps(d, 2)), ("makePickle", lambda: make_pickle(record))):
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn()
        times.append((time.perf_counter_ns() - t0) / n)
    times.sort()
    out[name] = times[len(times) // 2]
print(json.dumps(out))
