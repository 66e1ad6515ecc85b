"""Hostile pickles built by CPython, printed as one JSON object of hex strings.

usage: hostile.py MARKER_PATH
"""
import json
import os
import pickle
import sys

marker = sys.argv[1]


class Shell:
    def __reduce__(self):
        return (os.system, ("touch " + marker,))


class Evil:
    def __reduce__(self):
        return (eval, ("__import__('os').system('touch %s')" % marker,))


record = {"name": "evil", "msg": "hi", "levelno": 20, "levelname": "INFO"}
out = {
    # The frame is the exploit itself.
    "shell": pickle.dumps(Shell(), 1).hex(),
    # A record dict with the exploit inside, protocols 1 and 2.
    "nested1": pickle.dumps(dict(record, payload=Shell()), 1).hex(),
    "nested2": pickle.dumps(dict(record, payload=Evil()), 2).hex(),
    # Prototype pollution attempts: keys only.
    "proto": pickle.dumps(
        dict(record, __proto__={"polluted": 1}, constructor={"prototype": {"polluted": 2}}), 2
    ).hex(),
    "valid": pickle.dumps(dict(record, msg="still serving"), 1).hex(),
}
print(json.dumps(out))
