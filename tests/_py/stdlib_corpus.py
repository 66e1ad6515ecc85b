"""Standard-library values pickled by CPython, for tests/decode_stdlib_test.ts.

Prints one JSON object: {"cases": [...], "frame": hex, "extra": {...}}.
Each case: {"name", "kind", "fields", "str", "json", "p": [hex0..hex5]}:
  fields  what the typed JS form must hold, field by field;
  str     the text form (isoformat() for dates and times, else str());
  json    what a Python JSON logger writes for the value (isoformat, total
          seconds, str, a list for sets and deques, a dict for dict
          subclasses), as JSON text.
"frame" is CPython's SocketHandler.makePickle of a record carrying every
case in extra= (protocol 1, as CPython sends it).
"""
import collections
import datetime as dt
import decimal
import json
import logging
import logging.handlers
import pathlib
import pickle
import sys
import uuid

UTC = dt.timezone.utc


def tz_fields(tz):
    if tz is None:
        return None
    off = tz.utcoffset(None)
    return {"offset": [off.days, off.seconds, off.microseconds], "str": str(tz)}


def json_default(v):
    if isinstance(v, (dt.date, dt.datetime, dt.time)):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if isinstance(v, (set, frozenset, collections.deque)):
        return list(v)
    return str(v)


cases = []


def case(name, kind, v, fields, text=None):
    cases.append({
        "name": name,
        "kind": kind,
        "fields": fields,
        "str": text if text is not None else str(v),
        "json": json.dumps(v, default=json_default),
        "p": [pickle.dumps(v, p).hex() for p in range(6)],
        "value": v,
    })


def dt_case(name, v):
    case(name, "datetime", v, {
        "year": v.year, "month": v.month, "day": v.day, "hour": v.hour,
        "minute": v.minute, "second": v.second, "microsecond": v.microsecond,
        "fold": v.fold, "tz": tz_fields(v.tzinfo),
        "epoch_ms": int(v.timestamp() * 1000) if v.tzinfo else None,
    }, v.isoformat())


def time_case(name, v):
    case(name, "time", v, {
        "hour": v.hour, "minute": v.minute, "second": v.second,
        "microsecond": v.microsecond, "fold": v.fold, "tz": tz_fields(v.tzinfo),
    }, v.isoformat())


case("date", "date", dt.date(2024, 1, 2), {"year": 2024, "month": 1, "day": 2}, "2024-01-02")
case("date min", "date", dt.date.min, {"year": 1, "month": 1, "day": 1}, dt.date.min.isoformat())
dt_case("datetime naive", dt.datetime(2024, 2, 29, 23, 59, 58, 123456))
dt_case("datetime naive no us", dt.datetime(1999, 12, 31, 0, 0, 0))
dt_case("datetime utc", dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC))
dt_case("datetime +05:30", dt.datetime(2024, 7, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))))
dt_case("datetime -08:00 named", dt.datetime(2024, 7, 1, 12, 0, tzinfo=dt.timezone(-dt.timedelta(hours=8), "PST")))
dt_case("datetime offset with seconds and us", dt.datetime(
    2024, 7, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=-1, seconds=-1, microseconds=-5))))
dt_case("datetime fold", dt.datetime(2024, 11, 3, 1, 30, fold=1))
dt_case("datetime max", dt.datetime.max)
time_case("time naive", dt.time(9, 5, 0, 250))
time_case("time utc", dt.time(23, 59, 59, tzinfo=UTC))
time_case("time +01:00", dt.time(1, 2, 3, 4, tzinfo=dt.timezone(dt.timedelta(hours=1))))
for name, td in [("timedelta", dt.timedelta(days=1, seconds=3723, microseconds=500000)),
                 ("timedelta negative", dt.timedelta(seconds=-1.5)),
                 ("timedelta zero", dt.timedelta()),
                 ("timedelta days", dt.timedelta(days=-3))]:
    case(name, "timedelta", td, {"days": td.days, "seconds": td.seconds,
                                 "microseconds": td.microseconds, "total": td.total_seconds()})
for name, tz in [("timezone utc", UTC), ("timezone +02:00", dt.timezone(dt.timedelta(hours=2))),
                 ("timezone named", dt.timezone(dt.timedelta(hours=-3), "BRT"))]:
    case(name, "timezone", tz, tz_fields(tz))
for text in ["1.50", "-0", "NaN", "1E+3", "-Infinity", "3.14159265358979323846264338327950288"]:
    d = decimal.Decimal(text)
    case("Decimal " + text, "decimal", d, {"text": str(d)})
for name, u in [("uuid4", uuid.uuid4()), ("uuid1", uuid.uuid1()), ("uuid nil", uuid.UUID(int=0)),
                ("uuid max", uuid.UUID(int=2**128 - 1))]:
    case(name, "uuid", u, {"hex": u.hex})
od = collections.OrderedDict([("b", 1), ("a", [1, 2]), ("__proto__", "data")])
case("OrderedDict", "dict", od, {"items": list(od.items())}, str(od))
oda = collections.OrderedDict(k="v"); oda.attr = "dropped"  # BUILD of its __dict__
case("OrderedDict with an attribute", "dict", oda, {"items": list(oda.items())}, str(oda))
dd = collections.defaultdict(list, {"x": [1], "y": []})
case("defaultdict", "dict", dd, {"items": list(dd.items())}, str(dd))
cn = collections.Counter("abracadabra")
case("Counter", "dict", cn, {"items": list(cn.items())}, str(cn))
dq = collections.deque([1, "two", 3.5], maxlen=5)
case("deque", "list", dq, {"items": list(dq)}, str(dq))
case("deque empty", "list", collections.deque(), {"items": []}, "deque([])")
for name, s in [("set", {1, 2, "three"}), ("frozenset", frozenset(["a", "b"])), ("set empty", set())]:
    case(name, "set", s, {"items": list(s), "frozen": isinstance(s, frozenset)})
for p in [pathlib.PurePosixPath("/srv/app/main.py"), pathlib.PurePosixPath("rel/x"),
          pathlib.PurePosixPath("//net/share"), pathlib.PurePosixPath(),
          pathlib.PureWindowsPath("c:/Users/x"), pathlib.PureWindowsPath(r"\\server\share\dir\f.txt"),
          pathlib.PureWindowsPath("c:rel"), pathlib.PureWindowsPath(r"\root"),
          pathlib.PosixPath("/tmp/a b"), pathlib.Path("relative")]:
    case(type(p).__name__ + " " + str(p), "path", p, {"class": type(p).__name__, "parts": list(p.parts)})

values = {c["name"]: c.pop("value") for c in cases}
extra = {"x_" + "".join(ch if ch.isalnum() else "_" for ch in name): v for name, v in values.items()}
record = logging.makeLogRecord({"name": "app", "msg": "with stdlib extras", "levelno": 20,
                                "levelname": "INFO"})
record.__dict__.update(extra)
frame = logging.handlers.SocketHandler("localhost", 0).makePickle(record)
print(json.dumps({
    "cases": cases,
    "frame": frame.hex(),
    "extra": {k: name for k, name in zip(extra, values)},
}))
