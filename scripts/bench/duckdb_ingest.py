#!/usr/bin/env python3
"""The peer of `renkei-bench ingest`: DuckDB turning the same NDJSON into Parquet.

For each resource type, DuckDB reads every provider's `<Type>.ndjson`
(`read_json_auto`, schemas of all files unioned by name) and writes one
Parquet file: schema inference, JSON parsing and Parquet encoding, with no
validation, no identity and no bookkeeping. Runs with `SET threads=N`.

Prints one JSON line: {"seconds", "rows", "cpu_seconds", "threads",
"duckdb", "out_bytes", "per_type": {type: rows}}. Installs DuckDB from PyPI
(`python3 -m pip install --quiet duckdb`) when it is absent, and fails
saying so when that is impossible.

    python3 scripts/bench/duckdb_ingest.py --input DIR --out DIR --threads 1 \
        --types Organization,Patient,...
"""

import argparse
import glob
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pypeer import ensure_package  # noqa: E402


def load_duckdb():
    return ensure_package("duckdb", "duckdb", "duckdb_ingest", "the ingest benchmark needs it as its peer")


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def sql_string(s):
    return "'" + s.replace("'", "''") + "'"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="DIR/<provider>/<Type>.ndjson")
    parser.add_argument("--out", required=True, help="directory for <Type>.parquet")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--types", required=True, help="comma-separated resource types")
    args = parser.parse_args()

    duckdb = load_duckdb()
    os.makedirs(args.out, exist_ok=True)
    con = duckdb.connect(":memory:")
    con.execute(f"SET threads={int(args.threads)}")
    con.execute(f"SET temp_directory={sql_string(os.path.join(args.out, 'tmp'))}")

    types = [t for t in args.types.split(",") if t]
    per_type = {}
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    for ty in types:
        pattern = os.path.join(args.input, "*", f"{ty}.ndjson")
        if not glob.glob(pattern):
            sys.exit(f"duckdb_ingest: no file matches {pattern}")
        out = os.path.join(args.out, f"{ty}.parquet")
        row = con.execute(
            f"COPY (SELECT * FROM read_json_auto({sql_string(pattern)}, "
            f"format='newline_delimited', union_by_name=true)) "
            f"TO {sql_string(out)} (FORMAT parquet)"
        ).fetchone()
        per_type[ty] = int(row[0])
    seconds = time.perf_counter() - t0
    cpu = cpu_seconds() - cpu0
    con.close()

    out_bytes = sum(
        os.path.getsize(os.path.join(args.out, f"{ty}.parquet")) for ty in types
    )
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows": sum(per_type.values()),
                "cpu_seconds": cpu,
                "threads": args.threads,
                "duckdb": duckdb.__version__,
                "out_bytes": out_bytes,
                "per_type": per_type,
            }
        )
    )


if __name__ == "__main__":
    main()
