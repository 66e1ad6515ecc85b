"""Reads the corpus bench/_corpus.ts toPythonJson() writes: undoes its tags
(bigints and floats JSON cannot carry, bytes) so that CPython pickles the
same dicts our makePickle does."""
import base64
import json
import logging

TAG = "__py__"


def _untag(v):
    if isinstance(v, dict):
        kind = v.get(TAG)
        if kind is not None and len(v) == 2:
            text = v["v"]
            if kind == "int":
                return int(text)
            if kind == "float":
                return float(text)
            if kind == "bytes":
                return base64.b64decode(text)
            raise ValueError(f"unknown tag {kind}")
        return {k: _untag(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_untag(x) for x in v]
    return v


def load(path):
    """The corpus at path: a list of (d, record) pairs. d is the dict our
    makePickle pickles; record is a logging.LogRecord with msg and args
    still unformatted (for SocketHandler.makePickle)."""
    with open(path, encoding="utf-8") as f:
        items = json.load(f)
    out = []
    for item in items:
        d = _untag(item["d"])
        r = dict(d)
        r["msg"] = item["msg"]
        args = item["args"]
        r["args"] = tuple(_untag(args)) if args is not None else None
        out.append((d, logging.makeLogRecord(r)))
    return out
