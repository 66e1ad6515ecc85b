"""Seeded random Python values, each pickled with protocols 0 to 5, for the
decoder's tests: one JSON line per value, {"canon": C, "p": [hex0..hex5]}.
C is a canonical form both sides can compute (see canon below and
tests/decode_test.ts): numbers by exact value, strings by UTF-16 code
units, references by first-visit id, dict entries sorted by key.

usage: decode_corpus.py SEED COUNT
"""
import json
import pickle
import random
import struct
import sys

seed, count = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(seed)

EDGES = []
for bits in (7, 8, 15, 16, 31, 32, 53, 63, 64):
    for base in (2**bits, -(2**bits)):
        EDGES += [base - 1, base, base + 1]


def rand_int():
    r = rnd.random()
    if r < 0.4:
        return rnd.choice(EDGES)
    if r < 0.55:
        return rnd.randint(-(10 ** rnd.randint(20, 400)), 10 ** rnd.randint(20, 400))
    return rnd.randint(-1000, 1000)


def rand_float():
    return rnd.choice([
        0.0, -0.0, float("inf"), float("-inf"), float("nan"), 1.5, -2.25, 1e-7, 1e300,
        5e-324, 2.0**60, rnd.random() * 10 ** rnd.randint(-20, 20), float(rnd.randint(-99, 99)),
    ])


def rand_str():
    pool = ["a", "Z", " ", "\n", "\\", "'", '"', "\0", "\x1a", "\r", "é", "ÿ", "\u0100", "€",
            "\uffff", "\U0001f600", "\U0010ffff", "\ud800", "\udfff", "日本"]
    n = rnd.choice([0, 1, 3, 10, 40, 300])
    return "".join(rnd.choice(pool) for _ in range(n))


def scalar():
    return rnd.choice([
        lambda: None, lambda: True, lambda: False, rand_int, rand_float, rand_str,
        lambda: bytes(rnd.randrange(256) for _ in range(rnd.choice([0, 1, 5, 300]))),
        lambda: bytearray(b"\x00\xffab"),
    ])()


def key():
    return rnd.choice([rand_str, lambda: rnd.randint(-5, 300), lambda: (1, "t")])()


def value(depth, shared):
    if depth > 4 or rnd.random() < 0.35:
        return scalar()
    r = rnd.random()
    if r < 0.1 and shared:
        return rnd.choice(shared)
    n = rnd.randint(0, 6)
    if r < 0.35:
        v = [value(depth + 1, shared) for _ in range(n)]
    elif r < 0.5:
        v = tuple(value(depth + 1, shared) for _ in range(n))
    elif r < 0.75:
        v = {key(): value(depth + 1, shared) for _ in range(n)}
    elif r < 0.8:
        v = {rnd.randint(0, 9) for _ in range(n)} | {"s", (1, 2)}
    elif r < 0.85:
        v = frozenset(rand_str() for _ in range(n))
    else:
        v = {rand_str(): value(depth + 1, shared) for _ in range(n)}
    if isinstance(v, (list, dict)):
        shared.append(v)
        if rnd.random() < 0.1:  # a cycle
            if isinstance(v, list):
                v.append(v)
            else:
                v["self"] = v
    return v


def canon(v, ids):
    if v is None:
        return ["N"]
    if isinstance(v, bool):
        return ["B", v]
    if isinstance(v, int):
        return ["#", str(v)]
    if isinstance(v, float):
        if v != v:
            return ["#", "nan"]
        if v in (float("inf"), float("-inf")):
            return ["#", "inf" if v > 0 else "-inf"]
        if v == 0 and struct.pack(">d", v)[0] & 0x80:
            return ["#", "-0"]
        if v.is_integer():
            return ["#", str(int(v))]
        return ["#f", struct.pack(">d", v).hex()]
    if isinstance(v, str):
        return ["S", v.encode("utf-16-be", "surrogatepass").hex()]
    if isinstance(v, (bytes, bytearray)):
        return ["Y", bytes(v).hex()]
    if id(v) in ids:
        return ["R", ids[id(v)]]
    if isinstance(v, (list, dict)):
        ids[id(v)] = len(ids)
    if isinstance(v, list):
        return ["L", [canon(x, ids) for x in v]]
    if isinstance(v, tuple):
        return ["T", [canon(x, ids) for x in v]]
    if isinstance(v, (set, frozenset)):
        return ["E", sorted(json.dumps(canon(x, {}), separators=(",", ":")) for x in v)]
    if isinstance(v, dict):
        items = sorted(v.items(), key=lambda kv: json.dumps(canon(kv[0], {}), separators=(",", ":")))
        return ["D", [[canon(k, {}), canon(x, ids)] for k, x in items]]
    raise TypeError(type(v))


for _ in range(count):
    v = value(0, [])
    out = {"canon": canon(v, {}), "p": [pickle.dumps(v, p).hex() for p in range(6)]}
    sys.stdout.write(json.dumps(out, separators=(",", ":")) + "\n")
