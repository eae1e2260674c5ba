#!/usr/bin/env python3
"""The peer of `renkei-bench extract`: DuckDB making the same permit extract.

Reads the same lake Parquet files, leaves out the persons listed in the
exclusion file (an anti-join), replaces person_key by a keyed SHA-256
pseudonym (`sha256(key || person_key)`, truncated to 32 hex digits — DuckDB
has no HMAC), and writes one zstd Parquet file. No audit, no manifest, no
persons bitmap.

Prints one JSON line: {"seconds", "rows", "threads", "duckdb"}. Installs
DuckDB from PyPI when it is absent, and fails saying so when that is
impossible.

    python3 scripts/bench/duckdb_extract.py --files a.parquet,b.parquet \
        --excluded excluded.csv --out out.parquet --threads 2
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pypeer import ensure_package  # noqa: E402


def sql_string(s):
    return "'" + s.replace("'", "''") + "'"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", required=True, help="comma-separated Parquet files")
    parser.add_argument("--excluded", required=True, help="CSV with a person_key column")
    parser.add_argument("--columns", required=True, help="comma-separated columns to keep")
    parser.add_argument("--out", required=True)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    duckdb = ensure_package("duckdb", "duckdb", "duckdb_extract", "the extract benchmark needs it as its peer")
    con = duckdb.connect(":memory:")
    con.execute(f"SET threads={int(args.threads)}")
    files = "[" + ", ".join(sql_string(f) for f in args.files.split(",")) + "]"
    columns = ", ".join(f't."{c}"' for c in args.columns.split(","))
    key = "5f2c0e6b9a1d4c7e8b3a2f1e0d9c8b7a"
    t0 = time.perf_counter()
    con.execute(
        f"CREATE TEMP TABLE excluded AS SELECT person_key FROM read_csv({sql_string(args.excluded)}, header=true)"
    )
    con.execute(
        f"""COPY (
            SELECT left(sha256({sql_string(key)} || t.person_key), 32) AS pseudonym, {columns}
            FROM read_parquet({files}) t
            WHERE t.person_key NOT IN (SELECT person_key FROM excluded)
        ) TO {sql_string(args.out)} (FORMAT parquet, COMPRESSION zstd)"""
    )
    seconds = time.perf_counter() - t0
    rows = con.execute(f"SELECT count(*) FROM read_parquet({sql_string(args.out)})").fetchone()[0]
    print(json.dumps({"seconds": seconds, "rows": rows, "threads": args.threads, "duckdb": duckdb.__version__}))


if __name__ == "__main__":
    main()
