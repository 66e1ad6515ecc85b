"""CPython's side of bench/loads_compare.ts. Builds the frames of a typical
record the way CPython's SocketHandler does (makePickle, protocol 1), and
reads back frames given as hex on stdin (ours, protocol 2); times
pickle.loads + logging.makeLogRecord on each, several rounds; prints JSON:
the protocol-1 frame as hex and the median ns per record for each."""
import json
import logging
import logging.handlers
import pickle
import sys
import time

rounds, n = int(sys.argv[1]), int(sys.argv[2])
ours = bytes.fromhex(sys.stdin.read().strip())

record = logging.LogRecord("bench", logging.INFO, "/srv/app/server.py", 120,
                           "request %d handled in %.3f ms for user %s", (1, 1.5, "alice"), None,
                           func="handle")
frame = logging.handlers.SocketHandler("localhost", 0).makePickle(record)


def timed(body):
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            logging.makeLogRecord(pickle.loads(body))
        times.append((time.perf_counter_ns() - t0) / n)
    times.sort()
    return times[len(times) // 2]


out = {"frame1": frame.hex(), "p1": timed(frame[4:]), "p2": timed(ours[4:])}
print(json.dumps(out))
