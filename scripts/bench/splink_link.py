#!/usr/bin/env python3
"""The peer of `renkei-bench link`: Splink (DuckDB backend) deduplicating the same CSV.

The Rust side passes the CSV, the fields with the kind renkei chose for each
(`--field kana_name=name:0.92,0.8`), renkei's blocking rules in its syntax
(`--rule "kana_name[:2] & birth_date"`), the deterministic rules for the
prior (`--deterministic "insurer & insurance_number"`) and the threshold.
This script builds the equivalent Splink model and runs the usual Splink
workflow, timed from reading the CSV to the clustered predictions:

1. read the CSV and clean every value with Unicode NFKC (what a Splink user
   does with the standard library: full-width digits and half-width kana
   become ordinary ones; kana folding and variant kanji are renkei's own
   normalization and are not reproduced here); split addresses into
   prefecture, municipality and town with a regular expression;
2. comparisons: name/text -> JaroWinklerAtThresholds at renkei's two
   thresholds; date -> DateOfBirthComparison; code/postcode ->
   DamerauLevenshteinAtThresholds(1); category -> ExactMatch; address ->
   exact, same town, same municipality, same prefecture, else;
3. `estimate_probability_two_random_records_match` on the deterministic
   rules (recall --recall), `estimate_u_using_random_sampling` (--u-pairs),
   one EM session per blocking rule (as renkei trains);
4. `predict(threshold_match_probability)` over the union of the blocking
   rules, then `cluster_pairwise_predictions_at_threshold`.

Then, untimed: the predicted pairs go to --out (`left_id,right_id,
probability`) for the Rust side to score with the same code as renkei's, and
the blocked pairs are counted exactly.

Prints one JSON line: {"seconds", "read_seconds", "train_seconds",
"predict_seconds", "cluster_seconds", "records", "pairs_compared", "links",
"lambda", "failed_em_sessions", "threads", "splink", "duckdb"}. Installs
Splink 5 from PyPI (`python3 -m pip install --quiet "splink>=5,<6"`) when it
is absent; an installed Splink 4 or 5 is used as it is (both APIs are
handled, and the version is reported). Splink 5.0.0 refuses an m
probability that EM drives to exactly 0 (ValueError from its setter), which
loses that EM session; the session is then skipped, the prior it left
behind restored, and the failure reported in "failed_em_sessions" (seen on
a 2,000-person nation, not at 100,000). Splink 4 has no such failure.

    python3 scripts/bench/splink_link.py --input records.csv --id record_id \
        --out splink_pairs.csv --threshold 0.9 --field kana_name=name:0.92,0.8 \
        --rule "kana_name & birth_date" --deterministic "insurer & insurance_number"
"""

import argparse
import csv
import json
import logging
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pypeer import ensure_package  # noqa: E402
import unicodedata

REQUIREMENT = "splink>=5,<6"
MAJOR = 0


def load_splink():
    return ensure_package("splink", REQUIREMENT, "splink_link", "the link benchmark needs it as its peer")


# Prefecture, then municipality (a city, ward, town or village; a 政令市's
# ward follows its city), then the town name before the first digit.
ADDRESS = re.compile(
    r"^(東京都|北海道|(?:京都|大阪)府|.{2,3}?県)"
    r"(.+?郡.+?[町村]|.+?市.+?区|.+?[市区町村])?"
    r"([^0-9]*)"
)


def clean(value):
    value = unicodedata.normalize("NFKC", value).strip()
    return value or None


def address_parts(address):
    """(prefecture, prefecture+municipality, prefecture+municipality+town)."""
    if address is None:
        return (None, None, None)
    m = ADDRESS.match(address)
    if not m:
        return (None, None, None)
    pref = m.group(1)
    muni = pref + m.group(2) if m.group(2) else None
    town = muni + m.group(3) if muni and m.group(3) else None
    return (pref, muni, town)


def parse_rule(text):
    """renkei's `col[:n] & col` into block_on arguments."""
    keys = []
    for key in text.split("&"):
        key = key.strip()
        m = re.fullmatch(r"([^\[\]]+)\[:(\d+)\]", key)
        if m:
            keys.append(f"substr({m.group(1)}, 1, {int(m.group(2))})")
        else:
            keys.append(key)
    return keys


def comparison(cl, cll, column, kind, thresholds):
    if kind in ("name", "text"):
        return cl.JaroWinklerAtThresholds(column, thresholds)
    if kind == "date":
        return cl.DateOfBirthComparison(column, input_is_string=True)
    if kind in ("code", "postcode"):
        return cl.DamerauLevenshteinAtThresholds(column, [1])
    if kind == "category":
        return cl.ExactMatch(column)
    if kind == "address":
        return cl.CustomComparison(
            output_column_name=column,
            comparison_levels=[
                cll.NullLevel(column),
                cll.ExactMatchLevel(column),
                cll.ExactMatchLevel(f"{column}_town"),
                cll.ExactMatchLevel(f"{column}_municipality"),
                cll.ExactMatchLevel(f"{column}_prefecture"),
                cll.ElseLevel(),
            ],
            comparison_description="exact, same town, municipality, prefecture",
        )
    sys.exit(f"splink_link: unknown kind {kind!r} of field {column!r}")


def read_records(path, id_column, fields):
    """The CSV as columns of cleaned values (None for empty)."""
    address_fields = [c for c, (kind, _) in fields.items() if kind == "address"]
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        wanted = [id_column, *fields]
        missing = [c for c in wanted if c not in header]
        if missing:
            sys.exit(f"splink_link: {path} has no column {missing[0]!r}; it has {header}")
        positions = [header.index(c) for c in wanted]
        columns = {c: [] for c in wanted}
        for a in address_fields:
            for part in ("prefecture", "municipality", "town"):
                columns[f"{a}_{part}"] = []
        for row in reader:
            for c, i in zip(wanted, positions):
                v = row[i] if i < len(row) else ""
                columns[c].append(v if c == id_column else clean(v))
            for a in address_fields:
                pref, muni, town = address_parts(columns[a][-1])
                columns[f"{a}_prefecture"].append(pref)
                columns[f"{a}_municipality"].append(muni)
                columns[f"{a}_town"].append(town)
    return columns


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="the records (CSV with a header)")
    parser.add_argument("--id", required=True, help="the record id column")
    parser.add_argument("--out", required=True, help="where the predicted pairs go (CSV)")
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument(
        "--field", action="append", default=[], help="column=kind[:t1,t2], repeatable"
    )
    parser.add_argument("--rule", action="append", default=[], help="blocking rule, repeatable")
    parser.add_argument(
        "--deterministic", action="append", default=[], help="rule for the prior, repeatable"
    )
    parser.add_argument("--recall", type=float, default=0.8)
    parser.add_argument("--u-pairs", type=float, default=1e6)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=0, help="DuckDB threads (0: all)")
    args = parser.parse_args()
    if not args.field or not args.rule:
        sys.exit("splink_link: give at least one --field and one --rule")

    splink = load_splink()
    global MAJOR  # noqa: PLW0603
    MAJOR = int(splink.__version__.split(".")[0])
    import duckdb  # noqa: PLC0415
    import splink.comparison_level_library as cll  # noqa: PLC0415
    import splink.comparison_library as cl  # noqa: PLC0415
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on  # noqa: PLC0415

    fields = {}
    for spec in args.field:
        column, _, rest = spec.partition("=")
        kind, _, thresholds = rest.partition(":")
        fields[column] = (kind, [float(t) for t in thresholds.split(",") if t])

    con = duckdb.connect(":memory:")
    if args.threads > 0:
        con.sql(f"SET threads={int(args.threads)}")
    threads = con.sql("SELECT current_setting('threads')").fetchall()[0][0]

    t0 = time.perf_counter()
    columns = read_records(args.input, args.id, fields)
    if MAJOR >= 5:
        import pyarrow as pa  # noqa: PLC0415 (a dependency of Splink 5)

        table = pa.table({c: pa.array(v, type=pa.string()) for c, v in columns.items()})
    else:
        import pandas as pd  # noqa: PLC0415 (a dependency of Splink 4)

        table = pd.DataFrame(columns, dtype="string")
    records = len(columns[args.id])
    db_api = DuckDBAPI(connection=con)
    rules = [block_on(*parse_rule(r)) for r in args.rule]
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name=args.id,
        comparisons=[comparison(cl, cll, c, k, t) for c, (k, t) in fields.items()],
        blocking_rules_to_generate_predictions=rules,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )
    if MAJOR >= 5:
        sdf = db_api.register(table, table_name="records")
        linker = Linker(sdf, settings, log_level=logging.WARNING)
    else:
        con.register("records", table)
        linker = Linker("records", settings, db_api=db_api, set_up_basic_logging=False)
    t_read = time.perf_counter()

    deterministic = [block_on(*parse_rule(r)) for r in args.deterministic]
    if deterministic:
        linker.training.estimate_probability_two_random_records_match(
            deterministic, recall=args.recall
        )
    linker.training.estimate_u_using_random_sampling(max_pairs=args.u_pairs, seed=args.seed)
    failed_sessions = []
    for r in args.rule:
        prior = linker._settings_obj._probability_two_random_records_match  # noqa: SLF001
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(*parse_rule(r))
            )
        except ValueError as e:
            # The failed session leaves its own prior behind: put back the
            # one estimated from the deterministic rules.
            linker._settings_obj._probability_two_random_records_match = prior  # noqa: SLF001
            # Splink 5.0 refuses an m probability that EM drives to exactly 0
            # (its setters reject values below 1e-300); the session is lost,
            # the others stand.
            failed_sessions.append(f"{r}: {e}")
            print(f"splink_link: EM on {r} failed: {e}", file=sys.stderr)
    t_train = time.perf_counter()

    predictions = linker.inference.predict(threshold_match_probability=args.threshold)
    t_predict = time.perf_counter()
    linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=args.threshold
    )
    t_cluster = time.perf_counter()

    # Untimed: the pairs, for scoring, and the exact number compared.
    out = os.path.abspath(args.out)
    relation = predictions.as_duckdbpyrelation()
    links = relation.count("*").fetchall()[0][0]
    relation.select(
        f'"{args.id}_l" AS left_id, "{args.id}_r" AS right_id, match_probability AS probability'
    ).write_csv(out)
    if MAJOR >= 5:
        blocked = linker.inference.compute_blocked_pairs_for_predict()
        pairs_compared = blocked.as_duckdbpyrelation().count("*").fetchall()[0][0]
    else:
        from splink.blocking_analysis import (  # noqa: PLC0415
            cumulative_comparisons_to_be_scored_from_blocking_rules_data as count,
        )

        counts = count(
            table_or_tables="records",
            blocking_rules=[block_on(*parse_rule(r)) for r in args.rule],
            link_type="dedupe_only",
            db_api=db_api,
            unique_id_column_name=args.id,
        )
        pairs_compared = int(counts["row_count"].sum())
    lam = linker._settings_obj._probability_two_random_records_match  # noqa: SLF001

    print(
        json.dumps(
            {
                "seconds": t_cluster - t0,
                "read_seconds": t_read - t0,
                "train_seconds": t_train - t_read,
                "predict_seconds": t_predict - t_train,
                "cluster_seconds": t_cluster - t_predict,
                "records": records,
                "pairs_compared": pairs_compared,
                "links": links,
                "lambda": lam,
                "failed_em_sessions": failed_sessions,
                "threads": int(threads),
                "splink": splink.__version__,
                "duckdb": duckdb.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
