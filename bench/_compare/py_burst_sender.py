"""CPython's sender of bench/socket_compare.ts, run as its own process:
  python3 bench/_compare/py_burst_sender.py MODE PORT N CORPUS.json
logging.handlers.SocketHandler with default settings, its own logger per
corpus logger name, the records of bench/_corpus.ts (CORPUS.json, from
toPythonJson) taken in turn. MODE record: Logger.makeRecord with the
corpus's pathname, lineno and funcName, then Logger.handle (what
logger.info does after findCaller: CPython's fastest way to log these
records); MODE log: logger.log(level, msg, *args, extra=...) as Python
programs log (findCaller on, CPython's default; pathname is then this
file). Times one call in 16, like ours. sendall blocks, so there is no
event loop to yield to. Prints one JSON line like burst_sender.ts."""
import json
import logging
import logging.handlers
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "_py"))
import corpus  # noqa: E402

mode, port, n, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message"}
handler = logging.handlers.SocketHandler("127.0.0.1", port)
pool = []
for d, rec in corpus.load(path):
    logger = logging.getLogger(d["name"])
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    if not logger.handlers:
        logger.addHandler(handler)
    extra = {k: v for k, v in d.items() if k not in STANDARD}
    pool.append((logger, d["name"], d["levelno"], d["pathname"], d["lineno"],
                 rec.msg, rec.args or (), d["funcName"], extra or None, d["exc_text"]))

def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


rss_start_kb = rss_kb()  # the interpreter, the code and the record pool
SAMPLE = 16
times = []
clock = time.perf_counter_ns
P = len(pool)
start = time.time() * 1000
for i in range(n):
    logger, name, level, fn, lno, msg, args, func, extra, exc_text = pool[i % P]
    timed = i % SAMPLE == 0
    if timed:
        t0 = clock()
    if mode == "record":
        r = logger.makeRecord(name, level, fn, lno, msg, args, None, func, extra)
        if exc_text is not None:
            r.exc_text = exc_text
        logger.handle(r)
    else:
        logger.log(level, msg, *args, extra=extra)
    if timed:
        times.append(clock() - t0)
calls_done = time.time() * 1000
handler.close()
done = time.time() * 1000
times.sort()
print(json.dumps({
    "start": start,
    "callsDone": calls_done,
    "done": done,
    "medianNs": times[len(times) // 2],
    "p99Ns": times[int(len(times) * 0.99)],
    "maxNs": times[-1],
    "rssKb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "rssStartKb": rss_start_kb,
    "stats": {},
}))
