#!/usr/bin/env python3
"""The peer of `renkei-bench anonymize`: ANJANA anonymizing the same CSV with
the same ARX-format hierarchies, checked with pyCANON.

The Rust side passes the CSV, the quasi-identifiers, the sensitive column,
k (and l or t when the run asks for them), the suppression limit as a share
and one hierarchy file per quasi-identifier (`--hierarchy age=age.csv`).
This script does what an ANJANA user does, timed from reading the CSV to the
anonymized DataFrame:

1. read the CSV and every hierarchy with pandas, all as strings (ANJANA
   matches values by equality, so the types must agree), each hierarchy as
   `dict(pd.read_csv(path, header=None, dtype=str))`: level -> column;
2. `anjana.anonymity.k_anonymity(data, [], quasi, k, supp, hierarchies)`, or
   `l_diversity` / `entropy_l_diversity` / `t_closeness` with the sensitive
   column when l or t is given (each applies k-anonymity first); `supp` is
   ANJANA's percentage, 100 x the share.

ANJANA's search is greedy: it generalizes, one level at a time, the
quasi-identifier with the most distinct values until the model holds with at
most `supp` percent suppressed.

Then, untimed: the output goes to --out with the input's columns only (ANJANA
adds an `index` column after suppressing), and pyCANON measures k (and l, t)
on it. Prints one JSON line: {"seconds", "read_seconds", "anonymize_seconds",
"records", "output_records", "k", "l", "entropy_l", "t", "anjana", "pycanon"}.
Installs ANJANA and pyCANON from PyPI when absent.

    python3 scripts/bench/anjana_anonymize.py --input data.csv --quasi age,sex \
        --sensitive outcome --k 5 --suppression 0.05 --hierarchy age=age.csv \
        --hierarchy sex=sex.csv --out anjana_out.csv
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pypeer import ensure_package  # noqa: E402

WHO = "anjana_anonymize"
PURPOSE = "the anonymize benchmark needs it as its peer"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--input", required=True)
    p.add_argument("--quasi", required=True, help="comma-separated columns")
    p.add_argument("--sensitive", required=True)
    p.add_argument("--k", type=int, required=True)
    p.add_argument("--l", type=int)
    p.add_argument("--l-kind", choices=["distinct", "entropy"], default="distinct")
    p.add_argument("--t", type=float)
    p.add_argument("--suppression", type=float, default=0.0, help="share in [0, 1]")
    p.add_argument("--hierarchy", action="append", default=[], help="COLUMN=FILE.csv")
    p.add_argument("--out", required=True)
    args = p.parse_args()

    pd = ensure_package("pandas", "pandas", WHO, PURPOSE)
    anjana = ensure_package("anjana", "anjana", WHO, PURPOSE)
    pycanon = ensure_package("pycanon", "pycanon", WHO, PURPOSE)
    from anjana import anonymity  # noqa: E402
    from pycanon import anonymity as measure  # noqa: E402

    quasi = args.quasi.split(",")
    files = dict(h.split("=", 1) for h in args.hierarchy)
    missing = [q for q in quasi if q not in files]
    if missing:
        sys.exit(f"{WHO}: no --hierarchy for {', '.join(missing)}")

    started = time.perf_counter()
    data = pd.read_csv(args.input, dtype=str, keep_default_na=False)
    hierarchies = {
        q: dict(pd.read_csv(files[q], header=None, dtype=str, keep_default_na=False))
        for q in quasi
    }
    read = time.perf_counter()
    supp = 100.0 * args.suppression
    if args.t is not None:
        out = anonymity.t_closeness(data, [], quasi, args.sensitive, args.k, args.t, supp, hierarchies)
    elif args.l is not None and args.l_kind == "entropy":
        out = anonymity.entropy_l_diversity(data, [], quasi, args.sensitive, args.k, args.l, supp, hierarchies)
    elif args.l is not None:
        out = anonymity.l_diversity(data, [], quasi, args.sensitive, args.k, args.l, supp, hierarchies)
    else:
        out = anonymity.k_anonymity(data, [], quasi, args.k, supp, hierarchies)
    done = time.perf_counter()

    columns = [c for c in data.columns if c in out.columns]
    out = out[columns] if len(out) else pd.DataFrame(columns=list(data.columns))
    out.to_csv(args.out, index=False)
    report = {
        "seconds": done - started,
        "read_seconds": read - started,
        "anonymize_seconds": done - read,
        "records": len(data),
        "output_records": len(out),
        "k": None,
        "l": None,
        "entropy_l": None,
        "t": None,
        "anjana": getattr(anjana, "__version__", None),
        "pycanon": getattr(pycanon, "__version__", None),
    }
    if len(out):
        report["k"] = int(measure.k_anonymity(out, quasi))
        if args.l is not None or args.t is not None:
            report["l"] = int(measure.l_diversity(out, quasi, [args.sensitive]))
            report["entropy_l"] = float(measure.entropy_l_diversity(out, quasi, [args.sensitive]))
        if args.t is not None:
            report["t"] = float(measure.t_closeness(out, quasi, [args.sensitive]))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
