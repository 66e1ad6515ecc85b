"""CPython's side of bench/makepickle_compare.ts:
  python3 makepickle_cpython.py MIN_RECORDS CATEGORY=CORPUS.json[:FRAMES.bin] ...
Loads each category's records of bench/_corpus.ts (read by corpus.py) and
prints one JSON line: per category, record count, bytes per frame and, with
FRAMES.bin (our frames, end to end), how many of our frames pickle.loads
turns into exactly the record's dict, types included. Then serves rounds,
so that the Deno side can interleave them with its own: each line
"ROUND <category>" on stdin is answered by one JSON line with the ns per
record (wall clock and process CPU time) of C pickle.dumps(d, 2) of the
dict our makePickle pickles and of CPython's own
SocketHandler.makePickle(record) (dict copy, getMessage,
pickle.dumps(d, 1), struct.pack) on a LogRecord with msg and args still
unformatted, each over the corpus as often as it takes to encode
MIN_RECORDS records. A category named *-fresh gets a new msg str for each
record it encodes, made before the clock starts: a str keeps its UTF-8 once
pickled, so the same str again (a constant message) costs CPython less than
a message formatted anew, which is what the plain rows measure after their
first pass."""
import copy
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

min_records = int(sys.argv[1])
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


def per_record(fn, xs, passes):
    """ns per record: [wall, process CPU]."""
    t0 = time.perf_counter_ns()
    c0 = time.process_time_ns()
    for _ in range(passes):
        for x in xs:
            fn(x)
    n = passes * len(xs)
    return [(time.perf_counter_ns() - t0) / n, (time.process_time_ns() - c0) / n]


rows = {}
info = {}
for arg in sys.argv[2:]:
    name, _, paths = arg.partition("=")
    corpus_path, _, frames_path = paths.partition(":")
    items = corpus.load(corpus_path)
    dicts = [d for d, _ in items]
    records = [r for _, r in items]
    rows[name] = (dicts, records, max(1, -(-min_records // len(items))))
    i = {
        "records": len(items),
        "bytes": sum(len(pickle.dumps(d, 2)) + 4 for d in dicts) / len(dicts),
        "bytesMakePickle": sum(len(handler.makePickle(r)) for r in records) / len(records),
    }
    if frames_path:
        i["equal"] = check(items, frames_path)
    info[name] = i
print(json.dumps(info), flush=True)

def fresh(s):
    """An equal str with no UTF-8 kept: a message as getMessage formats it."""
    return (s + "x")[:-1]


#: Records made fresh at a time for a *-fresh row: few enough that their
#: memory is freed and reused batch to batch, as a logged message's is
#: (keeping all 20,000 alive put every UTF-8 on new pages: C dumps took 10.98
#: µs a record, against 5.65 in batches).
FRESH_BATCH = 100


def per_record_fresh(fn, items, passes, make):
    """per_record over fresh copies made by make(x), FRESH_BATCH at a time
    outside the clock."""
    wall = cpu = 0
    for _ in range(passes):
        for b in range(0, len(items), FRESH_BATCH):
            batch = [make(x) for x in items[b:b + FRESH_BATCH]]
            t0 = time.perf_counter_ns()
            c0 = time.process_time_ns()
            for x in batch:
                fn(x)
            wall += time.perf_counter_ns() - t0
            cpu += time.process_time_ns() - c0
            del batch
    n = passes * len(items)
    return [wall / n, cpu / n]


def fresh_dict(d):
    e = dict(d)
    e["msg"] = fresh(d["msg"])
    return e


def fresh_record(r):
    c = copy.copy(r)
    c.msg = fresh(r.msg)
    return c


dumps = pickle.dumps
for line in sys.stdin:
    cmd, _, name = line.strip().partition(" ")
    if cmd != "ROUND":
        break
    dicts, records, passes = rows[name]
    if name.endswith("-fresh"):
        print(json.dumps({
            "dumps2": per_record_fresh(lambda d: dumps(d, 2), dicts, passes, fresh_dict),
            "makePickle": per_record_fresh(handler.makePickle, records, passes, fresh_record),
        }), flush=True)
        continue
    print(json.dumps({
        "dumps2": per_record(lambda d: dumps(d, 2), dicts, passes),
        "makePickle": per_record(handler.makePickle, records, passes),
    }), flush=True)
