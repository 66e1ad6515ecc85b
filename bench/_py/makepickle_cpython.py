"""CPython's side of bench/makepickle_compare.ts:
  python3 makepickle_cpython.py ROUNDS MIN_RECORDS CATEGORY=CORPUS.json[:FRAMES.bin] ...
For each category, times per record, over the records of bench/_corpus.ts
(read by corpus.py), C pickle.dumps(d, 2) of the dict our makePickle pickles,
and CPython's own SocketHandler.makePickle(record) (dict copy, getMessage,
pickle.dumps(d, 1), struct.pack) on a LogRecord with msg and args still
unformatted. Each round goes over the corpus as often as it takes to encode
MIN_RECORDS records; prints the median ns per record of ROUNDS rounds as one
JSON line. With FRAMES.bin (our frames, end to end), also checks that
pickle.loads of each of our frames equals the record's dict, types included."""
import json
import logging.handlers
import math
import os
import pickle
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import corpus  # noqa: E402

rounds, min_records = int(sys.argv[1]), int(sys.argv[2])
handler = logging.handlers.SocketHandler("127.0.0.1", 9)  # never connects


def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def check(items, path):
    data = open(path, "rb").read()
    o, equal = 0, 0
    for d, _ in items:
        (n,) = struct.unpack(">L", data[o:o + 4])
        if same(pickle.loads(data[o + 4:o + 4 + n]), d):
            equal += 1
        o += 4 + n
    return equal


out = {}
for arg in sys.argv[3:]:
    name, _, paths = arg.partition("=")
    corpus_path, _, frames_path = paths.partition(":")
    items = corpus.load(corpus_path)
    dicts = [d for d, _ in items]
    records = [r for _, r in items]
    passes = max(1, -(-min_records // len(items)))
    dumps, make_pickle = pickle.dumps, handler.makePickle
    result = {"records": len(items)}
    for key, fn, xs in (("dumps2", lambda d: dumps(d, 2), dicts), ("makePickle", make_pickle, records)):
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter_ns()
            for _ in range(passes):
                for x in xs:
                    fn(x)
            times.append((time.perf_counter_ns() - t0) / (passes * len(xs)))
        times.sort()
        result[key] = times[len(times) // 2]
    result["bytes"] = sum(len(dumps(d, 2)) + 4 for d in dicts) / len(dicts)
    result["bytesMakePickle"] = sum(len(make_pickle(r)) for r in records) / len(records)
    if frames_path:
        result["equal"] = check(items, frames_path)
    out[name] = result
print(json.dumps(out))
