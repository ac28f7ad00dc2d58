"""Reads a Parquet file with pyarrow, the independent reader of the Parquet tests, and prints
its schema and every value as JSON on stdout (see tests/integration/parquet.rs):

  {"schema": [{"name", "physical", "logical", "max_def"}], "rows": [[value, ...], ...]}

A value is null or a one-key object: {"i": decimal text} for integers, {"d": text} for
decimals (no exponent), {"f": repr} for floats, {"s": hex of UTF-8} for strings (JSON too),
{"b": hex} for bytes, {"date": ISO text}, and for timestamps {"us": microseconds since the epoch,
"text": "YYYY-MM-DD HH:MM:SS.ffffff"} (UTC for adjusted timestamps, wall clock for the others).
"""
import datetime
import decimal
import json
import sys

import pyarrow.parquet as pq

EPOCH = datetime.datetime(1970, 1, 1)
EPOCH_UTC = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
MICRO = datetime.timedelta(microseconds=1)


def render(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return {"i": str(int(v))}
    if isinstance(v, int):
        return {"i": str(v)}
    if isinstance(v, decimal.Decimal):
        return {"d": format(v, "f")}
    if isinstance(v, float):
        return {"f": repr(v)}
    if isinstance(v, str):
        return {"s": v.encode("utf-8").hex()}
    if isinstance(v, bytes):
        return {"b": v.hex()}
    if isinstance(v, datetime.datetime):
        epoch = EPOCH_UTC if v.tzinfo is not None else EPOCH
        us = (v - epoch) // MICRO
        text = "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (
            v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond)
        return {"us": str(us), "text": text}
    if isinstance(v, datetime.date):
        return {"date": "%04d-%02d-%02d" % (v.year, v.month, v.day)}
    raise TypeError(f"unexpected value type {type(v)}: {v!r}")


def main(path):
    f = pq.ParquetFile(path)
    schema = []
    for i in range(len(f.schema)):
        c = f.schema.column(i)
        schema.append({
            "name": c.name,
            "physical": c.physical_type,
            "logical": str(c.logical_type),
            "max_def": c.max_definition_level,
        })
    table = f.read()
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    rows = [[render(col[r]) for col in columns] for r in range(table.num_rows)]
    json.dump({"schema": schema, "rows": rows, "row_groups": f.num_row_groups}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
