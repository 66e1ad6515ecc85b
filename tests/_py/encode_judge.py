"""CPython judges our pickles: read length-prefixed pickles on stdin, and for
each print one JSON line with a tagged description of what pickle.loads gave
(identity of containers kept as ids), after pickletools.dis has accepted it.
For a plain int, also CPython's own pickle.dumps(v, 2) bytes."""
import io
import json
import pickle
import pickletools
import struct
import sys


def describe(v, ids):
    t = type(v)
    if v is None:
        return ["N"]
    if t is bool:
        return ["b", v]
    if t is int:
        return ["i", str(v)]
    if t is float:
        return ["f", struct.pack(">d", v).hex()]
    if t is str:
        return ["s", v]
    if t is bytes:
        return ["y", v.hex()]
    if t in (list, dict, tuple, set):
        if t is tuple and len(v) == 0:
            return ["t", []]
        if id(v) in ids:
            return ["r", ids[id(v)]]
        ids[id(v)] = n = len(ids)
        if t is list:
            return ["l", n, [describe(x, ids) for x in v]]
        if t is tuple:
            return ["t", n, [describe(x, ids) for x in v]]
        if t is set:
            items = [describe(x, ids) for x in v]
            return ["S", n, sorted(items, key=json.dumps)]
        return ["d", n, [[describe(k, ids), describe(x, ids)] for k, x in v.items()]]
    return ["?", repr(v)]


def main():
    data = sys.stdin.buffer.read()
    out = sys.stdout
    pos = 0
    while pos < len(data):
        (n,) = struct.unpack(">L", data[pos:pos + 4])
        blob = data[pos + 4:pos + 4 + n]
        pos += 4 + n
        try:
            pickletools.dis(blob, out=io.StringIO())
            v = pickle.loads(blob)
            res = {"v": describe(v, {})}
            if type(v) is int:
                res["cpython"] = pickle.dumps(v, 2).hex()
        except Exception as e:  # reported, compared as a failure by the test
            res = {"error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(res) + "\n")


sys.setrecursionlimit(10000)
main()
