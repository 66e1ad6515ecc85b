"""Logs varied records through CPython's own SocketHandler (or
DatagramHandler) and prints, one JSON line per record, what CPython's
`logging.Formatter(FMT).format(record)` gives for each, on the record as
CPython's cookbook receiver rebuilds it from the handler's own pickle (null where
Formatter fails, as for a field the record lacks):
`fidelity_sender.py tcp|udp PORT FMT...`. Each FMT is one line per record,
in order: FMT 0 for every record, then FMT 1, ..."""
import datetime
import decimal
import json
import pathlib
import uuid
import logging
import logging.handlers
import pickle
import sys


class Capture(logging.Handler):
    def __init__(self, fmts, net):
        self.net = net
        super().__init__(0)
        self.formatters = [logging.Formatter(f) for f in fmts]
        self.out = []

    def emit(self, record):
        # As CPython's cookbook receiver rebuilds it from the wire.
        frame = self.net.makePickle(record)
        record = logging.makeLogRecord(pickle.loads(frame[4:]))
        row = []
        for f in self.formatters:
            try:
                row.append(f.format(record))
            except Exception:
                row.append(None)
        self.out.append(row)


def inner(log):
    log.info("stack here", stack_info=True)


def main():
    transport, port, fmts = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    if transport == "tcp":
        net = logging.handlers.SocketHandler("127.0.0.1", port)
    else:
        net = logging.handlers.DatagramHandler("127.0.0.1", port)
    cap = Capture(fmts, net)
    logging.addLevelName(25, "NOTICE")
    log = logging.getLogger("app.db")
    log.setLevel(1)
    log.propagate = False
    log.addHandler(net)  # first: it sees the record before any Formatter
    log.addHandler(cap)
    log.info("hello %s %d", "world", 42)
    log.debug("debug")
    log.warning("100%% done %s", "x")
    log.error("no args %s")
    log.critical({"a": 1})
    log.log(25, "notice")
    log.log(35, "unnamed level")
    log.log(5, "trace")
    log.info("extras", extra={
        "user": "ann", "n": 5, "f": 1.5, "none": None, "t": True,
        "lst": [1, "a"], "d": {"k": "v"}, "tup": (1, 2), "b": b"x\x00",
        "big": 2**70, "neg": -3, "fl0": 2.0, "s": "it's", "u": "h\u00e9llo \u2603 \U0001f600",
        "small": 1e-7, "huge": 1e22, "sixteen": 1e16})
    try:
        1 / 0
    except ZeroDivisionError:
        log.exception("failed %d", 7)
    inner(log)
    try:
        raise ValueError("b\u00e4d")
    except ValueError:
        log.error("both", exc_info=True, stack_info=True)
    other = logging.getLogger("\u00fcn\u00ef.\u043a\u043e\u0434")
    other.propagate = False
    other.addHandler(net)
    other.addHandler(cap)
    other.warning("\u00e9t\u00e9 \u2603 \U0001f600")
    log.info("tab\there\nnewline")
    try:
        raise KeyError("k")
    except KeyError:
        log.error("ends with a newline\n", exc_info=True, stack_info=True)
    log.info("so does this\n", stack_info=True)
    tz = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
    log.info("typed", extra={
        "dt": datetime.datetime(2024, 1, 2, 3, 4, 5, 678000),
        "dtz": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=tz),
        "utc": datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc),
        "day": datetime.date(2024, 1, 2), "tm": datetime.time(3, 4, 5),
        "td": datetime.timedelta(seconds=90.5),
        "neg": datetime.timedelta(seconds=-1),
        "dec": decimal.Decimal("9.90"), "u": uuid.UUID(int=1),
        "p": pathlib.PurePosixPath("/a/b"), "st": {1, 2}})
    net.close()
    for row in cap.out:
        print(json.dumps(row))


main()
