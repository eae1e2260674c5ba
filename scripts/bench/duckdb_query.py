#!/usr/bin/env python3
"""The peer of `renkei-bench query`: DuckDB running the same cohort queries.

Reads the queries renkei ran (a JSON list of {"name", "sql"}, written by
the bench from scripts/bench/query_set.sql) and the extract's Parquet
files (a JSON object of table name to file), makes each table a view over
`read_parquet`, and runs every query --runs times on one connection,
timing each run to the last fetched row. Session time zone UTC, as
renkei reads the timestamps.

Prints one JSON line: {"duckdb", "threads", "queries": [{"name",
"seconds": [...], "columns": [...], "rows": [[...], ...]}]} with the rows
of the last run. Installs DuckDB from PyPI when it is absent, and fails
saying so when that is impossible.

    python3 scripts/bench/duckdb_query.py --tables tables.json \
        --queries queries.json --runs 5 --threads 2
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


def plain(v):
    """A value as JSON has it: Decimal and other numbers as float, dates as text."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", required=True, help="JSON: table name -> Parquet file")
    parser.add_argument("--queries", required=True, help='JSON: [{"name", "sql"}]')
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    duckdb = ensure_package("duckdb", "duckdb", "duckdb_query", "the query benchmark needs it as its peer")
    with open(args.tables, encoding="utf-8") as f:
        tables = json.load(f)
    with open(args.queries, encoding="utf-8") as f:
        queries = json.load(f)
    con = duckdb.connect(":memory:")
    con.execute(f"SET threads={int(args.threads)}")
    con.execute("SET TimeZone='UTC'")
    for name, path in tables.items():
        con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet({sql_string(path)})')
    out = []
    for q in queries:
        seconds = []
        rows, columns = [], []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            cur = con.execute(q["sql"])
            rows = cur.fetchall()
            seconds.append(time.perf_counter() - t0)
            columns = [d[0] for d in cur.description]
        print(f"duckdb_query: {q['name']}: {min(seconds):.3f} s best of {args.runs}", file=sys.stderr)
        out.append(
            {
                "name": q["name"],
                "seconds": seconds,
                "columns": columns,
                "rows": [[plain(v) for v in row] for row in rows],
            }
        )
    print(json.dumps({"duckdb": duckdb.__version__, "threads": args.threads, "queries": out}))


if __name__ == "__main__":
    main()
