//! Zero configuration: the kind of each column and the blocking rules,
//! chosen from the header and the values, so that `renkei link` works on
//! a file nobody described.
//!
//! **Kinds.** In order, the first that fits:
//! - *ignored*: the id column; a column mostly empty (< 5 % filled), with
//!   a single value, or a row id (every value distinct and a header such
//!   as `id`, `rec_id`, `row`, `番号`);
//! - *postcode*: a header saying so (`post`, `zip`, `郵便`);
//! - *date*: ≥ 80 % of the values read as dates ([`crate::normalize::date`]);
//! - *address*: ≥ 50 % of the values are Japanese addresses (a prefecture
//!   or a municipality is found);
//! - *code*: ≥ 90 % of the values are digits once separators are removed;
//! - *category*: at most 50 distinct values, and at most 5 % as many as
//!   there are values (sex, state);
//! - *name*: a header saying so (`name`, `氏名`, `カナ`, `姓`, `名` …) or
//!   values of about one word (≤ 1.5 on average) without digits;
//! - *text*: anything else.
//!
//! **Blocking.** Every name, date, code, postcode or address field is a
//! candidate rule on its own, if that rule gives at most a budget of pairs
//! (`max(10⁶, 10·records)`); a field over budget is paired with the other
//! candidate that brings it under budget with the most pairs (the most
//! permissive rule that is still affordable). Rules on single fields make
//! the union robust — a duplicate with a typo in one field is caught by
//! another — and let training estimate every field and the recall of each
//! rule ([`super::fellegi_sunter`]).

use std::collections::HashSet;

use super::blocking::{BlockingRule, RuleKeys, Sides};
use super::comparison::{Kind, Prepared};
use super::table::Table;
use crate::normalize::{address, date, identifier};

/// Why a column is not compared, or what kind it was given.
#[derive(Clone, Debug, PartialEq)]
pub enum Choice {
    /// Compared as this kind.
    Compare(Kind),
    /// Not compared, for this reason.
    Ignore(&'static str),
}

fn header_says(header: &str, words: &[&str]) -> bool {
    let h = header.to_lowercase();
    words.iter().any(|w| h.contains(w))
}

/// The choice for one column from its header and values (each trimmed;
/// empty for missing).
pub fn infer_kind<'v>(header: &str, values: impl IntoIterator<Item = &'v str>) -> Choice {
    let all: Vec<&str> = values.into_iter().collect();
    let filled: Vec<&str> = all.iter().copied().filter(|v| !v.is_empty()).collect();
    if filled.len() * 20 < all.len() || filled.is_empty() {
        return Choice::Ignore("mostly empty");
    }
    let distinct: HashSet<&str> = filled.iter().copied().collect();
    if distinct.len() == 1 {
        return Choice::Ignore("a single value");
    }
    let h = header.to_lowercase();
    let row_id_header = matches!(
        h.as_str(),
        "id" | "rec_id"
            | "record_id"
            | "row"
            | "row_id"
            | "no"
            | "no."
            | "#"
            | "番号"
            | "連番"
            | "レコード番号"
    );
    if distinct.len() == filled.len() && row_id_header {
        return Choice::Ignore("a row id");
    }
    if header_says(header, &["post", "zip", "郵便"]) {
        return Choice::Compare(Kind::Postcode);
    }
    // Judge the values on a sample: enough to be sure, bounded in cost.
    let sample: Vec<&str> = filled
        .iter()
        .copied()
        .step_by((filled.len() / 2000).max(1))
        .collect();
    let share = |f: &dyn Fn(&str) -> bool| {
        sample.iter().filter(|v| f(v)).count() as f64 / sample.len() as f64
    };
    if share(&|v| date::date(v).is_ok()) >= 0.8 {
        return Choice::Compare(Kind::Date);
    }
    let japanese_address = |v: &str| {
        let a = address::parse(v);
        a.prefecture.is_some() || a.municipality.is_some()
    };
    if share(&|v| !v.is_ascii()) >= 0.5 && share(&japanese_address) >= 0.5 {
        return Choice::Compare(Kind::Address);
    }
    if share(&|v| {
        let id = identifier(v);
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
    }) >= 0.9
    {
        return Choice::Compare(Kind::Code);
    }
    if distinct.len() <= 50 && distinct.len() * 20 <= filled.len() {
        return Choice::Compare(Kind::Category);
    }
    let name_header = header_says(
        header,
        &[
            "name", "氏名", "姓", "名前", "カナ", "かな", "kana", "surname", "given",
        ],
    ) || header.ends_with('名');
    let words = sample
        .iter()
        .map(|v| v.split_whitespace().count())
        .sum::<usize>() as f64
        / sample.len() as f64;
    let digits = share(&|v| v.chars().any(|c| c.is_ascii_digit()));
    if name_header || (words <= 1.5 && digits < 0.05) {
        return Choice::Compare(Kind::Name);
    }
    Choice::Compare(Kind::Text)
}

/// The pair budget of one automatic rule.
pub fn rule_budget(records: u32) -> u64 {
    (u64::from(records) * 10).max(1_000_000)
}

/// An automatic rule and how many pairs it gives alone.
#[derive(Clone, Debug, PartialEq)]
pub struct ChosenRule {
    /// The rule.
    pub rule: BlockingRule,
    /// Pairs it gives alone.
    pub pairs: u64,
}

/// Chooses blocking rules over the prepared fields; see the module doc.
pub(crate) fn blocking(prepared: &[Prepared], sides: Sides) -> Vec<ChosenRule> {
    let budget = rule_budget(sides.records());
    let candidates: Vec<&Prepared> = prepared
        .iter()
        .filter(|p| {
            matches!(
                p.spec().kind,
                Kind::Name | Kind::Date | Kind::Code | Kind::Postcode | Kind::Address
            )
        })
        .collect();
    let count = |rule: &BlockingRule| {
        let keys = RuleKeys::new(rule, sides.records(), |c| {
            candidates
                .iter()
                .find(|p| p.spec().column == c)
                .expect("rules use candidate columns")
        });
        keys.pair_count(sides)
    };
    let mut chosen: Vec<ChosenRule> = Vec::new();
    let mut seen: HashSet<Vec<String>> = HashSet::new();
    for f in &candidates {
        let single = BlockingRule::on(&[&f.spec().column]);
        let n = count(&single);
        let choice = if n <= budget {
            Some(ChosenRule {
                rule: single,
                pairs: n,
            })
        } else {
            candidates
                .iter()
                .filter(|g| g.spec().column != f.spec().column)
                .map(|g| {
                    let rule = BlockingRule::on(&[&f.spec().column, &g.spec().column]);
                    let pairs = count(&rule);
                    ChosenRule { rule, pairs }
                })
                .filter(|c| c.pairs <= budget)
                .max_by_key(|c| c.pairs)
        };
        if let Some(c) = choice {
            let mut columns: Vec<String> = c.rule.keys.iter().map(|k| k.column.clone()).collect();
            columns.sort();
            if c.pairs > 0 && seen.insert(columns) {
                chosen.push(c);
            }
        }
    }
    chosen.sort_by_key(|c| c.pairs);
    chosen
}

/// The values of a column of a table, trimmed.
pub(crate) fn column_values(table: &Table, column: usize) -> impl Iterator<Item = &str> {
    (0..table.len()).map(move |r| table.value(r, column))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(header: &str, values: &[&str]) -> Choice {
        infer_kind(header, values.iter().copied())
    }

    #[test]
    fn febrl_like_columns() {
        assert_eq!(
            kind("rec_id", &["rec-1-org", "rec-2-org", "rec-1-dup-0"]),
            Choice::Ignore("a row id")
        );
        assert_eq!(
            kind("given_name", &["mitchell", "harley", "", "madeline"]),
            Choice::Compare(Kind::Name)
        );
        assert_eq!(
            kind("date_of_birth", &["19560409", "19080419", "19081128", ""]),
            Choice::Compare(Kind::Date)
        );
        assert_eq!(
            kind("soc_sec_id", &["1804974", "6089216", "2185997"]),
            Choice::Compare(Kind::Code)
        );
        assert_eq!(
            kind("postcode", &["2119", "3165", "4881"]),
            Choice::Compare(Kind::Postcode)
        );
        assert_eq!(
            kind(
                "address_1",
                &["wallaby place", "pridhamstreet", "hoseason street"]
            ),
            Choice::Compare(Kind::Text)
        );
        let states: Vec<&str> = ["nsw", "vic", "qld", "sa", "wa"]
            .iter()
            .copied()
            .cycle()
            .take(200)
            .collect();
        assert_eq!(kind("state", &states), Choice::Compare(Kind::Category));
    }

    #[test]
    fn japanese_columns() {
        assert_eq!(
            kind("氏名", &["山田 太郎", "髙橋 花子", "佐藤 一郎"]),
            Choice::Compare(Kind::Name)
        );
        assert_eq!(
            kind("生年月日", &["昭和55年1月2日", "S60.3.4", "1990-05-06"]),
            Choice::Compare(Kind::Date)
        );
        assert_eq!(
            kind(
                "住所",
                &[
                    "東京都新宿区四谷3-4-5",
                    "大阪府大阪市北区梅田1-1",
                    "横浜市中区港町1-1"
                ]
            ),
            Choice::Compare(Kind::Address)
        );
        assert_eq!(
            kind("郵便番号", &["160-0004", "530-0001", "231-0017"]),
            Choice::Compare(Kind::Postcode)
        );
    }

    #[test]
    fn useless_columns_are_ignored() {
        let sparse: Vec<&str> = std::iter::repeat_n("", 30).chain(["a"]).collect();
        assert_eq!(kind("x", &sparse), Choice::Ignore("mostly empty"));
        assert_eq!(
            kind("country", &["au", "au", "au"]),
            Choice::Ignore("a single value")
        );
    }
}
