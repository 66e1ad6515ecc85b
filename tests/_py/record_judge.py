"""Read length-prefixed pickles of record dicts; for each, print JSON with the
rebuilt record's dict, the type name of each value, getMessage() and a
Formatter's output, as a Python log receiver would see them."""
import json
import logging
import pickle
import struct
import sys

fmt = logging.Formatter("%(name)s %(levelname)s %(filename)s:%(lineno)d %(funcName)s %(message)s")


def plain(v):
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > 2**53:
        return str(v)
    if isinstance(v, bytes):
        return v.hex()
    return v


data = sys.stdin.buffer.read()
pos = 0
while pos < len(data):
    (n,) = struct.unpack(">L", data[pos:pos + 4])
    d = pickle.loads(data[pos + 4:pos + 4 + n])
    pos += 4 + n
    r = logging.makeLogRecord(d)
    print(json.dumps({
        "keys": list(d),
        "dict": plain(d),
        "types": {k: type(v).__name__ for k, v in d.items()},
        "getMessage": r.getMessage(),
        "formatted": fmt.format(r),
    }))
