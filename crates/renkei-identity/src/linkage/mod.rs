//! Probabilistic record linkage (Fellegi–Sunter) of any table of records:
//! deduplicating one file, or linking two.
//!
//! The steps, each its own module:
//!
//! 1. [`Table`]: records from CSV; [`Input`]: one table (dedupe) or two
//!    (link, left × right).
//! 2. A [`Plan`]: which columns are compared and how ([`FieldSpec`],
//!    [`Kind`]), the [`BlockingRule`]s, thresholds. Whatever
//!    [`Settings`] leave open is chosen from the data ([`auto`]).
//! 3. Each field is normalized once per record ([`comparison`]); blocking
//!    gives the candidate pairs ([`blocking`]); each pair gets a comparison
//!    level per field, allocation-free ([`similarity`]), in parallel when
//!    there are many.
//! 4. m and u by EM and random sampling, the prior λ, match weights and
//!    probabilities ([`fellegi_sunter`]).
//! 5. Pairs at or above the link threshold are links, those in the band
//!    below it go to clerical review; links become entities
//!    ([`cluster`]).
//!
//! ```
//! use renkei_identity::linkage::{Input, Linker, Settings, Table};
//! let csv = "id,name,dob,postcode\n\
//!            1,mitchell green,19560409,2119\n\
//!            2,mitchel green,19560409,2119\n\
//!            3,harley mccarthy,19080419,3165\n";
//! let table = Table::from_reader(csv.as_bytes()).unwrap();
//! let linker = Linker::new(Input::Dedupe(&table), "id", &Settings::default()).unwrap();
//! let outcome = linker.run();
//! assert_eq!(outcome.stats.records, 3);
//! println!("{}", linker.plan());
//! ```

pub mod auto;
pub mod blocking;
pub mod cluster;
pub mod comparison;
mod error;
pub mod fellegi_sunter;
mod pairs;
pub mod settings;
pub mod similarity;
mod table;

use std::fmt;
use std::path::Path;
use std::time::Instant;

pub use blocking::{BlockingKey, BlockingRule};
pub use cluster::Clusters;
pub use comparison::{FieldSpec, Kind};
pub use error::{Error, Result};
pub use fellegi_sunter::{FieldModel, Model, Training, TrainingReport};
pub use settings::Settings;
pub use table::Table;

use auto::Choice;
use blocking::{RuleKeys, Sides};
use comparison::Prepared;

/// Most blocking rules (the rules that hold for a pair are a bit mask).
pub const MAX_RULES: usize = 32;

/// What to link.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// Find the records of one table that belong to the same entity.
    Dedupe(&'a Table),
    /// Find, for records of `left`, the records of `right` of the same
    /// entity. Compared columns must have the same name in both.
    Link {
        /// The left table.
        left: &'a Table,
        /// The right table.
        right: &'a Table,
    },
}

/// What a run will do: fields, blocking, thresholds and training.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The compared fields, in column order.
    pub fields: Vec<FieldSpec>,
    /// Columns not compared, each with the reason.
    pub ignored: Vec<(String, String)>,
    /// The blocking rules (a union).
    pub blocking: Vec<BlockingRule>,
    /// Pairs each rule gives on its own.
    pub blocking_pairs: Vec<u64>,
    /// Whether the rules were chosen automatically.
    pub blocking_automatic: bool,
    /// Probability at or above which a pair is a link.
    pub link_threshold: f64,
    /// Probability at or above which a pair below the link threshold goes
    /// to clerical review.
    pub review_threshold: f64,
    /// Training parameters.
    pub training: Training,
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "fields compared ({}):", self.fields.len())?;
        for field in &self.fields {
            writeln!(
                f,
                "  {:<20} {:<9} {}",
                field.column,
                field.kind.as_str(),
                field.level_labels().join(" · ")
            )?;
        }
        if !self.ignored.is_empty() {
            writeln!(f, "columns ignored:")?;
            for (column, why) in &self.ignored {
                writeln!(f, "  {column:<20} {why}")?;
            }
        }
        writeln!(
            f,
            "blocking ({}, a union of {} rules):",
            if self.blocking_automatic {
                "chosen automatically"
            } else {
                "configured"
            },
            self.blocking.len()
        )?;
        for (rule, pairs) in self.blocking.iter().zip(&self.blocking_pairs) {
            writeln!(f, "  {:<40} {pairs} pairs alone", rule.to_string())?;
        }
        write!(
            f,
            "thresholds: link at probability >= {}, clerical review >= {}",
            self.link_threshold, self.review_threshold
        )
    }
}

/// A scored pair of records (indices into the input: in link mode `left`
/// is a record of the left table and `right` one of the right table).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoredPair {
    /// The first record.
    pub left: u32,
    /// The second record.
    pub right: u32,
    /// log2 of the posterior odds of a match.
    pub match_weight: f64,
    /// The posterior probability of a match.
    pub probability: f64,
}

/// Counts and timings of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    /// Records in the input (both tables when linking).
    pub records: usize,
    /// All pairs there are (n(n−1)/2, or left × right).
    pub total_pairs: f64,
    /// Pairs blocking gave and that were compared.
    pub pairs_compared: u64,
    /// Distinct comparison vectors among them.
    pub patterns: usize,
    /// Pairs at or above the link threshold.
    pub links: usize,
    /// Pairs in the clerical-review band.
    pub review: usize,
    /// Seconds spent per step: prepare, block, compare, train, score,
    /// cluster.
    pub seconds: [(&'static str, f64); 6],
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The trained model.
    pub model: Model,
    /// The EM sessions.
    pub training: TrainingReport,
    /// Pairs at or above the link threshold, strongest first.
    pub links: Vec<ScoredPair>,
    /// Pairs in the clerical-review band, strongest first.
    pub review: Vec<ScoredPair>,
    /// Entities.
    pub clusters: Clusters,
    /// Counts and timings.
    pub stats: Stats,
}

/// A prepared linkage run: the plan and every record normalized.
#[derive(Debug)]
pub struct Linker<'a> {
    tables: Vec<(&'a Table, usize)>,
    sides: Sides,
    plan: Plan,
    prepared: Vec<Prepared>,
    /// Blocking columns that are not compared.
    key_only: Vec<Prepared>,
    prepare_seconds: f64,
}

impl<'a> Linker<'a> {
    /// Plans the run and normalizes every record: `id_column` names each
    /// record (in both tables when linking) and is never compared.
    pub fn new(input: Input<'a>, id_column: &str, settings: &Settings) -> Result<Self> {
        let started = Instant::now();
        settings.check_fields()?;
        let (link_threshold, review_threshold) = settings.thresholds()?;
        let training = settings.training()?;
        let (tables, sides): (Vec<(&Table, usize)>, Sides) = match input {
            Input::Dedupe(t) => (
                vec![(t, t.require_column(id_column, "input")?)],
                Sides::Dedupe {
                    records: count(t.len())?,
                },
            ),
            Input::Link { left, right } => (
                vec![
                    (left, left.require_column(id_column, "left")?),
                    (right, right.require_column(id_column, "right")?),
                ],
                Sides::Link {
                    left: count(left.len())?,
                    right: count(right.len())?,
                },
            ),
        };
        let first = tables[0].0;
        for column in settings.fields.keys() {
            for (t, _) in &tables {
                t.require_column(column, side_name(&tables, t))?;
            }
        }

        let mut fields = Vec::new();
        let mut ignored = Vec::new();
        for column in first.columns() {
            if column == id_column {
                ignored.push((column.clone(), "the record id".to_owned()));
                continue;
            }
            if tables.iter().any(|(t, _)| t.column(column).is_none()) {
                ignored.push((column.clone(), "not in both files".to_owned()));
                continue;
            }
            let choice = match settings.fields.get(column) {
                Some(s) => match s.kind.kind() {
                    Some(kind) => Choice::Compare(kind),
                    None => Choice::Ignore("configured"),
                },
                None if settings.only_listed_fields => Choice::Ignore("not in the configuration"),
                None => auto::infer_kind(
                    column,
                    tables.iter().flat_map(|&(t, _)| {
                        auto::column_values(t, t.column(column).expect("checked above"))
                    }),
                ),
            };
            match choice {
                Choice::Compare(kind) => {
                    let mut spec = FieldSpec::new(column.clone(), kind);
                    if let Some(jw) = settings.fields.get(column).and_then(|s| s.jaro_winkler) {
                        spec.jaro_winkler = jw;
                    }
                    fields.push(spec);
                }
                Choice::Ignore(why) => ignored.push((column.clone(), why.to_owned())),
            }
        }
        if fields.is_empty() {
            return Err(Error::NoFields);
        }
        let radix: f64 = fields.iter().map(|f| (f.levels() + 1) as f64).product();
        if radix >= u64::MAX as f64 {
            return Err(Error::InvalidSetting {
                key: "fields".into(),
                reason: format!(
                    "{} fields are too many to compare at once; ignore some",
                    fields.len()
                ),
            });
        }
        let column_of = |t: &Table, c: &str| t.column(c).expect("checked above");
        let prepared: Vec<Prepared> = std::thread::scope(|s| {
            let handles: Vec<_> = fields
                .iter()
                .map(|spec| {
                    let sources: Vec<(&Table, usize)> = tables
                        .iter()
                        .map(|&(t, _)| (t, column_of(t, &spec.column)))
                        .collect();
                    s.spawn(move || Prepared::new(spec.clone(), &sources))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("normalizing a column does not panic"))
                .collect()
        });

        let (blocking, blocking_pairs, automatic, key_only) = match &settings.blocking {
            Some(rules) => {
                let rules: Vec<BlockingRule> =
                    rules.iter().map(|r| r.parse()).collect::<Result<_>>()?;
                let mut key_only: Vec<Prepared> = Vec::new();
                for rule in &rules {
                    for key in &rule.keys {
                        for (t, _) in &tables {
                            t.require_column(&key.column, side_name(&tables, t))?;
                        }
                        let known = prepared
                            .iter()
                            .chain(&key_only)
                            .any(|p| p.spec().column == key.column);
                        if !known {
                            let sources: Vec<(&Table, usize)> = tables
                                .iter()
                                .map(|&(t, _)| (t, column_of(t, &key.column)))
                                .collect();
                            key_only.push(Prepared::new(
                                FieldSpec::new(key.column.clone(), Kind::Name),
                                &sources,
                            ));
                        }
                    }
                }
                let pairs = rules
                    .iter()
                    .map(|r| rule_keys(r, sides, &prepared, &key_only).pair_count(sides))
                    .collect();
                (rules, pairs, false, key_only)
            }
            None => {
                let chosen = auto::blocking(&prepared, sides);
                let pairs = chosen.iter().map(|c| c.pairs).collect();
                (
                    chosen.into_iter().map(|c| c.rule).collect(),
                    pairs,
                    true,
                    Vec::new(),
                )
            }
        };
        if blocking.is_empty() {
            return Err(Error::InvalidSetting {
                key: "blocking".into(),
                reason:
                    "no column is selective enough to block on; give rules in the configuration"
                        .into(),
            });
        }
        if blocking.len() > MAX_RULES {
            return Err(Error::InvalidSetting {
                key: "blocking".into(),
                reason: format!("at most {MAX_RULES} rules"),
            });
        }
        Ok(Self {
            tables,
            sides,
            plan: Plan {
                fields,
                ignored,
                blocking,
                blocking_pairs,
                blocking_automatic: automatic,
                link_threshold,
                review_threshold,
                training,
            },
            prepared,
            key_only,
            prepare_seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// What the run will do.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The id of a record (in link mode, records of the right table follow
    /// those of the left).
    pub fn record_id(&self, record: u32) -> &str {
        let mut r = record as usize;
        for &(t, id) in &self.tables {
            if r < t.len() {
                return t.value(r, id);
            }
            r -= t.len();
        }
        panic!("record {record} is beyond the input");
    }

    /// Writes pairs as CSV with the header
    /// `left_id,right_id,match_weight,probability`.
    pub fn write_pairs(&self, pairs: &[ScoredPair], path: &Path) -> Result<()> {
        let err = |source| Error::Csv {
            path: path.to_owned(),
            source,
        };
        let mut w = csv::Writer::from_path(path).map_err(err)?;
        w.write_record(["left_id", "right_id", "match_weight", "probability"])
            .map_err(err)?;
        for p in pairs {
            w.write_record([
                self.record_id(p.left),
                self.record_id(p.right),
                &format!("{:.4}", p.match_weight),
                &format!("{:.6}", p.probability),
            ])
            .map_err(err)?;
        }
        w.flush().map_err(|e| err(e.into()))
    }

    /// Writes each record's entity as CSV with the header `id,cluster`
    /// (and `side` when linking: `left` or `right`).
    pub fn write_clusters(&self, clusters: &Clusters, path: &Path) -> Result<()> {
        let err = |source| Error::Csv {
            path: path.to_owned(),
            source,
        };
        let mut w = csv::Writer::from_path(path).map_err(err)?;
        let linking = matches!(self.sides, Sides::Link { .. });
        if linking {
            w.write_record(["side", "id", "cluster"]).map_err(err)?;
        } else {
            w.write_record(["id", "cluster"]).map_err(err)?;
        }
        for (r, c) in clusters.of_record.iter().enumerate() {
            let r = r as u32;
            let cluster = c.to_string();
            if let Sides::Link { left, .. } = self.sides {
                let side = if r < left { "left" } else { "right" };
                w.write_record([side, self.record_id(r), &cluster])
                    .map_err(err)?;
            } else {
                w.write_record([self.record_id(r), &cluster]).map_err(err)?;
            }
        }
        w.flush().map_err(|e| err(e.into()))
    }

    /// The comparison level of every field for a pair.
    fn levels(&self, a: u32, b: u32, out: &mut [u8]) {
        for (slot, p) in out.iter_mut().zip(&self.prepared) {
            *slot = p.level(a, b);
        }
    }

    /// Blocks, compares, trains, scores and clusters.
    pub fn run(&self) -> Outcome {
        let plan = &self.plan;
        let t = Instant::now();
        let rules: Vec<RuleKeys> = plan
            .blocking
            .iter()
            .map(|r| rule_keys(r, self.sides, &self.prepared, &self.key_only))
            .collect();
        let candidates = blocking::candidates(&rules, self.sides);
        let block_seconds = t.elapsed().as_secs_f64();

        let t = Instant::now();
        let (patterns, pair_patterns) = pairs::compare(&self.prepared, &rules, &candidates);
        let compare_seconds = t.elapsed().as_secs_f64();

        let t = Instant::now();
        let u = fellegi_sunter::estimate_u(&self.prepared, self.sides, &plan.training);
        let (model, training) = fellegi_sunter::train(
            &plan.fields,
            &plan.blocking,
            &patterns,
            u,
            self.sides,
            &plan.training,
        );
        let train_seconds = t.elapsed().as_secs_f64();

        let t = Instant::now();
        let weights: Vec<f64> = (0..patterns.levels.len() / patterns.fields.max(1))
            .map(|p| model.match_weight(patterns.levels_of(p as u32)))
            .collect();
        let mut links = Vec::new();
        let mut review = Vec::new();
        for (&(a, b), &p) in candidates.iter().zip(&pair_patterns) {
            let w = weights[p as usize];
            let probability = Model::probability(w);
            if probability >= plan.review_threshold {
                let pair = ScoredPair {
                    left: a,
                    right: b,
                    match_weight: w,
                    probability,
                };
                if probability >= plan.link_threshold {
                    links.push(pair);
                } else {
                    review.push(pair);
                }
            }
        }
        let strongest_first =
            |x: &ScoredPair, y: &ScoredPair| y.match_weight.total_cmp(&x.match_weight);
        links.sort_by(strongest_first);
        review.sort_by(strongest_first);
        let score_seconds = t.elapsed().as_secs_f64();

        let t = Instant::now();
        let edges: Vec<(u32, u32, f64)> = links
            .iter()
            .map(|p| (p.left, p.right, p.match_weight))
            .collect();
        let mut levels = vec![0u8; plan.fields.len()];
        let clusters = cluster::cluster(self.sides.records() as usize, &edges, |a, b| {
            if let Sides::Link { left, .. } = self.sides
                && (a < left) == (b < left)
            {
                // Two records of one side are never a link in link mode.
                return false;
            }
            self.levels(a, b, &mut levels);
            Model::probability(model.match_weight(&levels)) >= plan.link_threshold
        });
        let cluster_seconds = t.elapsed().as_secs_f64();

        let stats = Stats {
            records: self.sides.records() as usize,
            total_pairs: self.sides.total_pairs(),
            pairs_compared: candidates.len() as u64,
            patterns: weights.len(),
            links: links.len(),
            review: review.len(),
            seconds: [
                ("prepare", self.prepare_seconds),
                ("block", block_seconds),
                ("compare", compare_seconds),
                ("train", train_seconds),
                ("score", score_seconds),
                ("cluster", cluster_seconds),
            ],
        };
        Outcome {
            model,
            training,
            links,
            review,
            clusters,
            stats,
        }
    }
}

fn count(n: usize) -> Result<u32> {
    u32::try_from(n)
        .ok()
        .filter(|n| *n < u32::MAX / 2)
        .ok_or_else(|| Error::InvalidSetting {
            key: "input".into(),
            reason: "more than 2^31 records".into(),
        })
}

fn side_name(tables: &[(&Table, usize)], t: &Table) -> &'static str {
    match tables {
        [_] => "input",
        [(l, _), ..] if std::ptr::eq(*l, t) => "left",
        _ => "right",
    }
}

fn rule_keys(
    rule: &BlockingRule,
    sides: Sides,
    prepared: &[Prepared],
    key_only: &[Prepared],
) -> RuleKeys {
    RuleKeys::new(rule, sides.records(), |c| {
        prepared
            .iter()
            .chain(key_only)
            .find(|p| p.spec().column == c)
            .expect("every blocking column is prepared")
    })
}
