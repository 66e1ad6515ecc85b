"""CPython's side of bench/long4_compare.ts: writes the frame body (a list of
COUNT random ints of SIZE bytes each, pickle protocol 2: LONG4 opcodes) to
PATH, then times pickle.loads on it ROUNDS times; prints the times in ms as
a JSON list.

usage: long4_cpython.py PATH COUNT SIZE ROUNDS
"""
import json
import pickle
import random
import sys
import time

path, count, size, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
r = random.Random(1600)
body = pickle.dumps([r.getrandbits(8 * size) - (1 << (8 * size - 1)) for _ in range(count)], 2)
with open(path, "wb") as f:
    f.write(body)
times = []
for _ in range(rounds):
    t0 = time.perf_counter()
    pickle.loads(body)
    times.append((time.perf_counter() - t0) * 1000)
print(json.dumps(times))
