//! Linkage with no configuration on FEBRL3, a public benchmark with known
//! duplicates (`../shared/testdata/febrl3/`, see its SOURCE.md): 5000
//! records, 6538 true duplicate pairs. The zero-config path must reach
//! F1 ≥ 0.98 on pairs, as a hand-configured Splink does on FEBRL data.

use std::collections::HashSet;
use std::path::PathBuf;

use renkei_identity::linkage::{BlockingRule, Input, Linker, Settings, Table};
use renkei_identity::pprl::{
    ClkKey, ClkLinker, ClkSchema, DEFAULT_BITS, EncodedTable, MatchSettings, encode,
};

fn febrl3() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/febrl3")
}

fn unordered(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_owned(), b.to_owned())
    } else {
        (b.to_owned(), a.to_owned())
    }
}

#[test]
fn zero_config_dedupe_of_febrl3_reaches_f1_of_0_98() {
    let dir = febrl3();
    let records = dir.join("records.csv");
    let truth_file = dir.join("true_links.csv");
    assert!(
        records.is_file() && truth_file.is_file(),
        "FEBRL3 test data is missing: expected {} and {} (see ../shared/testdata/febrl3/SOURCE.md)",
        records.display(),
        truth_file.display()
    );
    let table = Table::from_path(&records).expect("records.csv reads");
    assert_eq!(table.len(), 5000);
    let linker =
        Linker::new(Input::Dedupe(&table), "rec_id", &Settings::default()).expect("a plan");
    println!("{}", linker.plan());
    let outcome = linker.run();
    println!("{}", outcome.model);
    println!("{:?}", outcome.stats);

    let truth_table = Table::from_path(&truth_file).expect("true_links.csv reads");
    let (l, r) = (
        truth_table
            .require_column("left_id", "input")
            .expect("left_id"),
        truth_table
            .require_column("right_id", "input")
            .expect("right_id"),
    );
    let truth: HashSet<(String, String)> = (0..truth_table.len())
        .map(|i| unordered(truth_table.value(i, l), truth_table.value(i, r)))
        .collect();
    assert_eq!(truth.len(), 6538);
    let found: HashSet<(String, String)> = outcome
        .links
        .iter()
        .map(|p| unordered(linker.record_id(p.left), linker.record_id(p.right)))
        .collect();
    let true_positives = found.intersection(&truth).count() as f64;
    let precision = true_positives / found.len().max(1) as f64;
    let recall = true_positives / truth.len() as f64;
    let f1 = 2.0 * precision * recall / (precision + recall).max(f64::MIN_POSITIVE);
    println!(
        "FEBRL3 zero-config: {} links, precision {precision:.4}, recall {recall:.4}, F1 {f1:.4}",
        found.len()
    );
    assert!(
        f1 >= 0.98,
        "F1 {f1:.4} < 0.98 (precision {precision:.4}, recall {recall:.4})"
    );
}

/// The true duplicate pairs of FEBRL3.
fn febrl3_truth() -> HashSet<(String, String)> {
    let truth_table =
        Table::from_path(&febrl3().join("true_links.csv")).expect("true_links.csv reads");
    let l = truth_table
        .require_column("left_id", "input")
        .expect("left_id");
    let r = truth_table
        .require_column("right_id", "input")
        .expect("right_id");
    (0..truth_table.len())
        .map(|i| unordered(truth_table.value(i, l), truth_table.value(i, r)))
        .collect()
}

/// Precision, recall and F1 of `found` against `truth`.
fn score(found: &HashSet<(String, String)>, truth: &HashSet<(String, String)>) -> (f64, f64, f64) {
    let tp = found.intersection(truth).count() as f64;
    let precision = tp / found.len().max(1) as f64;
    let recall = tp / truth.len() as f64;
    let f1 = 2.0 * precision * recall / (precision + recall).max(f64::MIN_POSITIVE);
    (precision, recall, f1)
}

/// FEBRL3 encoded by a provider with a key the platform never sees, then
/// linked on the filters alone.
fn pprl_febrl3(blocking: &[BlockingRule]) -> (f64, f64, f64, u64) {
    let table = Table::from_path(&febrl3().join("records.csv")).expect("records.csv reads");
    let schema = ClkSchema::infer(&table, "rec_id", DEFAULT_BITS).expect("a schema");
    println!("{schema}");
    let encoded =
        encode(&ClkKey::new([42; 32]), &schema, &table, "rec_id", blocking).expect("encodes");
    // The platform's side: only ids, filters and tokens, read back from the
    // CSV a provider would send.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("clks.csv");
    encoded.write_csv(&path).expect("writes");
    let sent = Table::from_path(&path).expect("reads back");
    assert!(EncodedTable::is_encoded(&sent));
    assert_eq!(
        sent.columns()
            .iter()
            .filter(|c| !["id", "clk", "schema", "blocks"].contains(&c.as_str()))
            .count(),
        0,
        "nothing but ids, filters and tokens leaves the provider"
    );
    let received = EncodedTable::from_table(&sent, "id", "input").expect("decodes");
    let linker = ClkLinker::dedupe(&received);
    let outcome = linker.run(&MatchSettings::default()).expect("links");
    let found: HashSet<(String, String)> = outcome
        .links
        .iter()
        .map(|p| unordered(linker.record_id(p.left), linker.record_id(p.right)))
        .collect();
    let (precision, recall, f1) = score(&found, &febrl3_truth());
    println!(
        "FEBRL3 PPRL ({}): {} links of {} pairs compared, precision {precision:.4}, recall {recall:.4}, F1 {f1:.4}",
        outcome.stats.candidates,
        found.len(),
        outcome.stats.pairs_compared
    );
    (precision, recall, f1, outcome.stats.pairs_compared)
}

#[test]
fn bloom_filter_linkage_of_febrl3_without_names_reaches_f1_of_0_95() {
    let (precision, recall, f1, _) = pprl_febrl3(&[]);
    assert!(
        f1 >= 0.95,
        "F1 {f1:.4} < 0.95 (precision {precision:.4}, recall {recall:.4})"
    );
}

#[test]
fn keyed_blocking_tokens_cut_the_pairs_and_keep_the_links() {
    let rules: Vec<BlockingRule> = [
        "surname[:2] & date_of_birth[:4]",
        "given_name[:2] & postcode",
        "soc_sec_id",
        "date_of_birth",
    ]
    .iter()
    .map(|r| r.parse().expect("a rule"))
    .collect();
    let (_, _, all_f1, all_pairs) = pprl_febrl3(&[]);
    let (precision, recall, f1, pairs) = pprl_febrl3(&rules);
    assert!(
        pairs * 20 < all_pairs,
        "{pairs} pairs with blocking, {all_pairs} without"
    );
    assert!(
        f1 >= all_f1 - 0.02,
        "F1 {f1:.4} with blocking against {all_f1:.4} without (precision {precision:.4}, recall {recall:.4})"
    );
}
