"""CPython's side of bench/compare.ts, run as its own process:
  python3 bench/_compare/py_sender.py MODE PORT N PACE [WARMUP]
MODE: plain (logging.handlers.SocketHandler) | nocaller (the same, with
logging._srcfile = None: no findCaller, CPython's fastest setting) | queue
(QueueHandler + QueueListener in front of it). Logs N records with the same message and
extras as the other systems, timing each call; PACE > 0 sleeps PACE ms after
every 1,000 records. WARMUP records (seq -1, not timed) go first. Prints
one JSON line like deno_sender.ts."""
import json
import logging
import logging.handlers
import queue
import resource
import sys
import time

mode, port, n, pace = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
warmup = int(sys.argv[5]) if len(sys.argv) > 5 else 0
if mode == "nocaller":
    logging._srcfile = None  # documented in logging/__init__.py: skips findCaller
sock = logging.handlers.SocketHandler("127.0.0.1", port)
log = logging.getLogger("bench")
log.propagate = False
log.setLevel(logging.INFO)
listener = None
if mode == "queue":
    q = queue.SimpleQueue()
    log.addHandler(logging.handlers.QueueHandler(q))
    listener = logging.handlers.QueueListener(q, sock)
    listener.start()
else:
    log.addHandler(sock)

for _ in range(warmup):
    log.info("request %d handled in %.3f ms for user %s", -1, 1.5, "alice", extra={"seq": -1, "user": "alice"})
if warmup:
    time.sleep(0.1)  # sendall returned: the sink has them or soon will

times = [0] * n
clock = time.perf_counter_ns
start = time.time() * 1000
for i in range(n):
    t0 = clock()
    log.info("request %d handled in %.3f ms for user %s", i, 1.5, "alice", extra={"seq": i, "user": "alice"})
    times[i] = clock() - t0
    if pace and i % 1000 == 999:
        time.sleep(pace / 1000)
calls_done = time.time() * 1000
if listener is not None:
    listener.stop()  # drains the queue
sock.close()
times.sort()
print(json.dumps({
    "start": start,
    "callsDone": calls_done,
    "done": time.time() * 1000,
    "medianNs": times[n // 2],
    "p99Ns": times[int(n * 0.99)],
    "maxNs": times[-1],
    "rssKb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "stats": {},
}))
