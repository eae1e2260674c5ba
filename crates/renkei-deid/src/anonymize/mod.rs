//! Anonymization (匿名加工医療情報): a table generalized and suppressed until
//! it satisfies k-anonymity and, optionally, l-diversity and t-closeness,
//! at the least information loss, with a report of what was done and what
//! risk remains.
//!
//! Why this shape: the processing function delivers anonymized data only
//! when the privacy models provably hold, so the engine finds the optimum
//! of a stated metric instead of a greedy guess, and a second, independent
//! piece of code ([`verify`]) checks every output before it leaves.
//!
//! - [`Table`]: columns of strings, dictionary-encoded once.
//! - [`Hierarchy`]: each value's generalizations (ARX files, or built for
//!   ages, dates, 市区町村コード, ICD-10, JLAC10, codes, categories).
//! - [`Config`] → [`anonymize`] → [`Outcome`]: the output table without the
//!   suppressed records, the generalization chosen (a level per
//!   quasi-identifier), and the [`Report`]: risk under the prosecutor,
//!   journalist and marketer models ([`risk`]) and utility (the Loss metric
//!   of [`loss`], discernibility, classes, suppressed records).
//!
//! The search ([`lattice`]) is full-domain generalization with record
//! suppression, as in ARX: every record of a column is generalized to the
//! same level, and classes still failing a model are suppressed whole
//! within the budget `⌊max_suppression × records⌋`. It returns the node of
//! least Loss — exactly, for every model, by a lower bound that prunes the
//! lattice and Flash-style tagging that skips provably non-anonymous nodes.
//!
//! ```
//! use std::collections::HashMap;
//! use renkei_deid::anonymize::{anonymize, Config, Hierarchy, Table};
//!
//! let ages = ["31", "33", "34", "36", "38", "52", "55", "57"];
//! let sex = ["F", "F", "M", "M", "F", "M", "F", "M"];
//! let dx = ["I10", "E11", "I10", "J45", "E11", "I10", "J45", "E11"];
//! let table = Table::from_columns([("age", &ages), ("sex", &sex), ("dx", &dx)])?;
//! let mut config = Config::new(["age", "sex"], 2);
//! config.sensitive = Some("dx".into());
//! config.hierarchies = HashMap::from([
//!     ("age".into(), Hierarchy::age_bands("age", ages)?),
//!     ("sex".into(), Hierarchy::flat("sex", sex)?),
//! ]);
//! let out = anonymize(&table, &config)?;
//! assert!(out.report.verified.k >= 2);
//! assert_eq!(out.table.rows() + out.suppressed, 8);
//! # Ok::<(), renkei_deid::anonymize::Error>(())
//! ```

mod classes;
mod error;
pub mod hierarchy;
pub mod lattice;
pub mod loss;
pub mod model;
pub mod risk;
mod table;
pub mod verify;

use std::collections::{HashMap, HashSet};

pub use classes::value_order;
pub use error::{Error, Result};
pub use hierarchy::Hierarchy;
pub use lattice::SearchStats;
pub use model::{GroundDistance, LDiversity, LKind, TCloseness};
pub use risk::{Risk, RiskReport};
pub use table::{Column, Table};
pub use verify::{Verified, Violation};

use classes::Encoded;
use lattice::{Search, evaluate};
use model::Models;

/// What to anonymize and how much.
#[derive(Debug, Clone)]
pub struct Config {
    /// Quasi-identifiers: generalized, and grouped into classes.
    pub quasi: Vec<String>,
    /// A hierarchy for every quasi-identifier.
    pub hierarchies: HashMap<String, Hierarchy>,
    /// The sensitive column (kept as is; needed for l and t).
    pub sensitive: Option<String>,
    /// Direct identifiers: removed from the output.
    pub identifiers: Vec<String>,
    /// Every class at least this large (k-anonymity); at least 1.
    pub k: usize,
    /// l-diversity of the sensitive column.
    pub l: Option<LDiversity>,
    /// t-closeness of the sensitive column.
    pub t: Option<TCloseness>,
    /// Share of records that may be suppressed, in [0, 1].
    pub max_suppression: f64,
}

impl Config {
    /// k-anonymity over `quasi` with no suppression; fill in the
    /// hierarchies and any other model.
    pub fn new<S: Into<String>>(quasi: impl IntoIterator<Item = S>, k: usize) -> Self {
        Self {
            quasi: quasi.into_iter().map(Into::into).collect(),
            hierarchies: HashMap::new(),
            sensitive: None,
            identifiers: Vec::new(),
            k,
            l: None,
            t: None,
            max_suppression: 0.0,
        }
    }

    /// The models as text: `k=5, entropy l=2, t=0.2 (ordered)`.
    pub fn models(&self) -> String {
        let mut s = format!("k={}", self.k);
        if let Some(l) = self.l {
            s.push_str(&format!(", {} l={}", l.kind.as_str(), l.l));
        }
        if let Some(t) = self.t {
            s.push_str(&format!(", t={} ({})", t.t, t.distance.as_str()));
        }
        s
    }
}

/// The level chosen for one quasi-identifier.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnGeneralization {
    /// The column.
    pub column: String,
    /// The level (0 = original).
    pub level: usize,
    /// Levels of its hierarchy (the top is `height - 1`).
    pub height: usize,
    /// The level's name ("5-wide intervals", "prefecture", "*").
    pub level_name: String,
    /// Generalization loss of the column's kept records at this level
    /// (suppressed ones not counted), in [0, 1].
    pub loss: f64,
}

/// What an anonymization did and what risk remains.
#[derive(Debug, Clone)]
pub struct Report {
    /// Records in the input.
    pub input_records: usize,
    /// Records in the output.
    pub records: usize,
    /// Records suppressed (left out).
    pub suppressed: usize,
    /// Records that could have been suppressed.
    pub suppression_budget: usize,
    /// Equivalence classes in the output.
    pub classes: usize,
    /// Mean records per class.
    pub average_class_size: f64,
    /// The level of each quasi-identifier.
    pub generalization: Vec<ColumnGeneralization>,
    /// ARX's Loss metric (see [`loss`]), in [0, 1]: what was minimized.
    pub information_loss: f64,
    /// Discernibility: Σ class size² over kept records plus records × input
    /// size for each suppressed one (Bayardo and Agrawal 2005).
    pub discernibility: f64,
    /// Re-identification risk.
    pub risk: RiskReport,
    /// k, l and t as measured by the independent check.
    pub verified: Verified,
    /// The search.
    pub search: SearchStats,
}

/// An anonymized table and its report.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The generalized records, suppressed ones left out, identifiers
    /// removed; other columns as they were.
    pub table: Table,
    /// Records suppressed.
    pub suppressed: usize,
    /// What was done and what risk remains.
    pub report: Report,
}

/// Anonymizes `table` as `config` says; the journalist risk equals the
/// prosecutor's (no population).
pub fn anonymize(table: &Table, config: &Config) -> Result<Outcome> {
    run(table, config, None)
}

/// Anonymizes `table`, assessing the journalist risk against `population`
/// (a table with the quasi-identifiers' columns, original values; the
/// records the sample is drawn from).
pub fn anonymize_against(table: &Table, config: &Config, population: &Table) -> Result<Outcome> {
    run(table, config, Some(population))
}

fn validate(table: &Table, config: &Config) -> Result<(Vec<usize>, Option<usize>)> {
    let bad = |m: String| Err(Error::InvalidConfig(m));
    if config.k == 0 {
        return bad("k must be at least 1".into());
    }
    if config.quasi.is_empty() {
        return bad("name at least one quasi-identifier".into());
    }
    if !(0.0..=1.0).contains(&config.max_suppression) {
        return bad(format!(
            "the suppression limit {} is not a share in [0, 1]",
            config.max_suppression
        ));
    }
    if config.l.is_some_and(|l| l.l == 0) {
        return bad("l must be at least 1".into());
    }
    if let Some(t) = config.t
        && !(0.0..=1.0).contains(&t.t)
    {
        return bad(format!("t = {} is outside [0, 1]", t.t));
    }
    if (config.l.is_some() || config.t.is_some()) && config.sensitive.is_none() {
        return bad("l-diversity and t-closeness need a sensitive column".into());
    }
    let mut seen = HashSet::new();
    let mut quasi = Vec::with_capacity(config.quasi.len());
    for q in &config.quasi {
        if !seen.insert(q.as_str()) {
            return bad(format!("quasi-identifier {q:?} is named twice"));
        }
        quasi.push(table.column_index(q)?);
        if !config.hierarchies.contains_key(q) {
            return Err(Error::NoHierarchy { column: q.clone() });
        }
    }
    let sensitive = match config.sensitive.as_deref() {
        Some(s) if seen.contains(s) => {
            return bad(format!("{s:?} is both a quasi-identifier and sensitive"));
        }
        Some(s) => Some(table.column_index(s)?),
        None => None,
    };
    for id in &config.identifiers {
        table.column_index(id)?;
        if seen.contains(id.as_str()) || config.sensitive.as_deref() == Some(id) {
            return bad(format!(
                "{id:?} is an identifier and also a quasi-identifier or sensitive"
            ));
        }
    }
    if quasi
        .iter()
        .map(|&i| config.hierarchies[&table.columns()[i].name().to_owned()].height())
        .product::<usize>()
        > lattice::MAX_NODES
    {
        return Err(Error::TooLarge(format!(
            "the hierarchies make a lattice of more than {} nodes",
            lattice::MAX_NODES
        )));
    }
    Ok((quasi, sensitive))
}

fn run(table: &Table, config: &Config, population: Option<&Table>) -> Result<Outcome> {
    let (quasi_cols, sens_col) = validate(table, config)?;
    let pairs: Vec<(usize, &Hierarchy)> = quasi_cols
        .iter()
        .zip(&config.quasi)
        .map(|(&i, name)| (i, &config.hierarchies[name]))
        .collect();
    let enc = Encoded::new(table, &pairs, sens_col)?;
    let models = Models::new(config.k, config.l, config.t, enc.sensitive.as_ref());
    let budget = verify::suppression_budget(config.max_suppression, table.rows());
    let base = enc.base_groups(table);
    let search = Search::new(&enc, &models, base, budget);
    let Some(found) = search.run() else {
        return Err(Error::NoSolution {
            models: config.models(),
            budget,
            rows: table.rows(),
        });
    };

    // The chosen node's classes once more, to know which are suppressed
    // and how large the kept ones are.
    let mut failing = HashSet::new();
    let mut kept: Vec<(u64, u64)> = Vec::new();
    evaluate(
        &enc,
        &models,
        &found.groups,
        &found.levels,
        |class, size, verdict| {
            if verdict.fails {
                failing.insert(class);
            } else {
                kept.push((class, size));
            }
        },
    );
    let output = build_output(table, config, &enc, &found.levels, &failing)?;
    let suppressed = table.rows() - output.rows();
    if suppressed != found.check.suppressed {
        return Err(Error::Internal(format!(
            "the search counted {} suppressed records, the output lacks {suppressed}",
            found.check.suppressed
        )));
    }
    let input_sensitive = config
        .sensitive
        .as_deref()
        .and_then(|s| verify::distribution(table, s));
    let verified = verify::verify(
        &output,
        &verify::Requirements {
            quasi: &config.quasi,
            sensitive: config.sensitive.as_deref(),
            k: config.k,
            l: config.l,
            t: config.t,
            input_rows: table.rows(),
            max_suppression: config.max_suppression,
            input_sensitive: input_sensitive.as_ref(),
        },
    )
    .map_err(Error::Verification)?;
    let population_sizes = population
        .map(|p| population_classes(p, config, &enc, &found.levels))
        .transpose()?;
    let risk = risk::assess(
        kept.iter().map(|&(class, size)| {
            (
                size,
                population_sizes
                    .as_ref()
                    .map(|m| m.get(&class).copied().unwrap_or(0)),
            )
        }),
        population.map(Table::rows),
    );

    let records = output.rows();
    let generalization = enc
        .quasi
        .iter()
        .zip(&found.levels)
        .map(|(q, &l)| {
            let l = usize::from(l);
            let h = &config.hierarchies[&q.name];
            let col = &output.columns()[output
                .column_index(&q.name)
                .expect("quasi columns are kept")];
            let loss_of: HashMap<&str, f64> = q.values[l]
                .iter()
                .zip(&q.loss[l])
                .map(|(v, &x)| (v.as_str(), x))
                .collect();
            let per_code: Vec<f64> = col
                .dictionary()
                .iter()
                .map(|v| loss_of.get(v.as_str()).copied().unwrap_or(1.0))
                .collect();
            let loss = col
                .codes()
                .iter()
                .map(|&c| per_code[c as usize])
                .sum::<f64>()
                / records.max(1) as f64;
            ColumnGeneralization {
                column: q.name.clone(),
                level: l,
                height: q.height,
                level_name: h.level_name(l).to_owned(),
                loss,
            }
        })
        .collect();
    let discernibility = kept.iter().map(|&(_, s)| (s * s) as f64).sum::<f64>()
        + suppressed as f64 * table.rows() as f64;
    let report = Report {
        input_records: table.rows(),
        records,
        suppressed,
        suppression_budget: budget,
        classes: kept.len(),
        average_class_size: if kept.is_empty() {
            0.0
        } else {
            records as f64 / kept.len() as f64
        },
        generalization,
        information_loss: found.check.loss,
        discernibility,
        risk,
        verified,
        search: found.stats,
    };
    Ok(Outcome {
        table: output,
        suppressed,
        report,
    })
}

/// The output: quasi-identifiers at their levels, suppressed records and
/// identifiers left out.
fn build_output(
    table: &Table,
    config: &Config,
    enc: &Encoded,
    levels: &[u8],
    failing: &HashSet<u64>,
) -> Result<Table> {
    let keep: Vec<usize> = (0..table.rows())
        .filter(|&r| failing.is_empty() || !failing.contains(&enc.class_key(table, r, levels)))
        .collect();
    let dropped: HashSet<&str> = config.identifiers.iter().map(String::as_str).collect();
    let mut columns = Vec::new();
    for (i, col) in table.columns().iter().enumerate() {
        if dropped.contains(col.name()) {
            continue;
        }
        let (dict, map): (&[String], Option<&[u32]>) =
            match enc.quasi.iter().zip(levels).find(|(q, _)| q.column == i) {
                Some((q, &l)) => (
                    &q.values[usize::from(l)],
                    Some(q.to_level[usize::from(l)].as_slice()),
                ),
                None => (col.dictionary(), None),
            };
        // Renumber so the output's dictionary holds only the values it uses.
        let mut renumber = vec![u32::MAX; dict.len()];
        let mut values = Vec::new();
        let mut codes = Vec::with_capacity(keep.len());
        for &r in &keep {
            let code = col.codes()[r];
            let code = map.map_or(code, |m| m[code as usize]) as usize;
            if renumber[code] == u32::MAX {
                renumber[code] = values.len() as u32;
                values.push(dict[code].clone());
            }
            codes.push(renumber[code]);
        }
        columns.push(Column::from_parts(col.name().to_owned(), values, codes));
    }
    Table::new(columns, "the anonymized table")
}

/// Population class sizes at the chosen levels, by class key; population
/// classes no sample class has are left out.
fn population_classes(
    population: &Table,
    config: &Config,
    enc: &Encoded,
    levels: &[u8],
) -> Result<HashMap<u64, u64>> {
    let mut lookups = Vec::new();
    for (q, &l) in enc.quasi.iter().zip(levels) {
        let col = &population.columns()[population.column_index(&q.name)?];
        let h = &config.hierarchies[&q.name];
        let index: HashMap<&str, u32> = q.values[usize::from(l)]
            .iter()
            .enumerate()
            .map(|(c, v)| (v.as_str(), c as u32))
            .collect();
        // Per population dictionary code: the sample's level code, or None
        // when no sample record has that generalized value.
        let mut per_code = Vec::with_capacity(col.dictionary().len());
        for (code, v) in col.dictionary().iter().enumerate() {
            let g = h
                .generalize(v, usize::from(l))
                .ok_or_else(|| Error::NotInHierarchy {
                    column: format!("{} (population)", q.name),
                    row: col
                        .codes()
                        .iter()
                        .position(|&c| c as usize == code)
                        .map_or(0, |r| r + 1),
                    value: v.clone(),
                })?;
            per_code.push(index.get(g).copied());
        }
        lookups.push((q.shift, col.codes(), per_code));
    }
    let mut sizes = HashMap::new();
    'rows: for r in 0..population.rows() {
        let mut key = 0u64;
        for (shift, codes, per_code) in &lookups {
            match per_code[codes[r] as usize] {
                Some(c) => key |= u64::from(c) << shift,
                None => continue 'rows,
            }
        }
        *sizes.entry(key).or_default() += 1;
    }
    Ok(sizes)
}
