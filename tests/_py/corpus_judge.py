"""Judge of tests/record_fastpath_test.ts: reads CORPUS.json (the records as
bench/_corpus.ts toPythonJson writes them, read back by bench/_py/corpus.py)
and FRAMES.bin (our frames, end to end, one per record, same order), and
prints one JSON line: how many frames pickle.loads turns into exactly the
record's dict (keys in order, types included), and the first that does not.

usage: corpus_judge.py CORPUS.json FRAMES.bin"""
import json
import math
import os
import pickle
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench", "_py"))
import corpus  # noqa: E402


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


items = corpus.load(sys.argv[1])
data = open(sys.argv[2], "rb").read()
pos, equal, first = 0, 0, None
for i, (d, _) in enumerate(items):
    (n,) = struct.unpack(">L", data[pos:pos + 4])
    got = pickle.loads(data[pos + 4:pos + 4 + n])
    pos += 4 + n
    if same(got, d):
        equal += 1
    elif first is None:
        keys = [k for k in d if k not in got or not same(got[k], d[k])]
        first = {"index": i, "keys": keys + [k for k in got if k not in d]}
print(json.dumps({"records": len(items), "equal": equal, "first": first,
                  "trailing": len(data) - pos}))
