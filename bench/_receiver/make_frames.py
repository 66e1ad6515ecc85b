"""Writes N real CPython SocketHandler frames (makePickle, protocol 1) of
varied records to a file: 40 loggers, 200 call sites, 8 message shapes with
args, 0-4 extras, some non-ASCII text, ~2% exc_text.

usage: make_frames.py N PATH"""
import logging
import logging.handlers
import random
import sys

n, path = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(12)
h = logging.handlers.SocketHandler("localhost", 0)
shapes = [
    ("request %s handled in %.3f ms", lambda: ("/api/v1/items/%d" % rnd.randrange(1000), rnd.random() * 50)),
    ("user %s logged in from %s", lambda: ("u%d" % rnd.randrange(5000), "10.0.%d.%d" % (rnd.randrange(256), rnd.randrange(256)))),
    ("cache miss for key %r", lambda: ("k:%08x" % rnd.getrandbits(32),)),
    ("retrying %s (attempt %d of %d)", lambda: ("db", rnd.randrange(1, 5), 5)),
    ("queue depth %d above %d", lambda: (rnd.randrange(10000), 5000)),
    ("注文 %d を処理しました", lambda: (rnd.randrange(100000),)),
    ("job finished", lambda: ()),
    ("payload size %d bytes, checksum %s", lambda: (rnd.randrange(1 << 20), "%x" % rnd.getrandbits(64))),
]
levels = [logging.DEBUG, logging.INFO, logging.INFO, logging.INFO, logging.WARNING, logging.ERROR]
with open(path, "wb") as f:
    for i in range(n):
        fmt, args = shapes[rnd.randrange(len(shapes))]
        site = rnd.randrange(200)
        r = logging.LogRecord("svc%d.%s" % (site % 40, ["api", "db", "worker"][site % 3]),
                              rnd.choice(levels), "/srv/app/mod%d.py" % (site % 25),
                              10 + site, fmt, args(), None, func="fn%d" % site)
        for k in range(rnd.randrange(5)):
            setattr(r, ["request_id", "user", "elapsed", "tags", "ok"][k],
                    ["%032x" % rnd.getrandbits(128), "u%d" % rnd.randrange(99), rnd.random(),
                     ["a", "b", rnd.randrange(9)], rnd.random() < 0.5][k])
        if rnd.random() < 0.02:
            r.exc_text = "Traceback (most recent call last):\n  File \"/srv/app/x.py\", line 3, in f\nKeyError: 'k'"
        f.write(h.makePickle(r))
