//! `renkei anonymize`: anonymization of any CSV file, stand-alone — the
//! engine of the processing function's anonymized delivery
//! (`renkei_deid::anonymize`) on a user's own data. With no `--hierarchy`
//! for a quasi-identifier it builds one from the column's name and values
//! (age bands, date → month → year, 市区町村コード → prefecture, ICD-10 →
//! category → chapter, JLAC10 → analyte → group, code prefixes, `*` for
//! other categories) and prints what it chose.
//!
//! Output: the anonymized records (`--out`; suppressed records left out,
//! `--id` columns removed). Standard output: the hierarchies, the chosen
//! generalization, the suppression, the risk and utility report, and last
//! one JSON line with the same figures.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use renkei_deid::anonymize::{
    Config, GroundDistance, Hierarchy, LDiversity, LKind, Outcome, TCloseness, Table, anonymize,
    anonymize_against,
};
use serde_json::json;

/// Which l-diversity (`--l-kind`).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LKindArg {
    /// At least l distinct sensitive values per class.
    Distinct,
    /// Entropy of the sensitive values per class at least ln l.
    Entropy,
}

/// The ground distance of t-closeness (`--t-distance`).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DistanceArg {
    /// Every two values at distance 1 (categories).
    Equal,
    /// Values in order (numbers).
    Ordered,
}

/// Arguments of `renkei anonymize`.
#[derive(Debug, clap::Args)]
pub struct AnonymizeArgs {
    /// The CSV file to anonymize (with a header row).
    #[arg(long, value_name = "CSV")]
    input: PathBuf,
    /// Quasi-identifiers, comma-separated: generalized until every
    /// combination is shared by at least k records.
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',', required = true)]
    quasi: Vec<String>,
    /// The sensitive column (kept as is; l and t are about it).
    #[arg(long, value_name = "COLUMN")]
    sensitive: Option<String>,
    /// k-anonymity: every class at least this large.
    #[arg(long)]
    k: usize,
    /// l-diversity of the sensitive column.
    #[arg(long, requires = "sensitive")]
    l: Option<u32>,
    /// Which l-diversity.
    #[arg(long, value_enum, default_value = "distinct", requires = "l")]
    l_kind: LKindArg,
    /// t-closeness of the sensitive column (Earth Mover's Distance).
    #[arg(long, requires = "sensitive")]
    t: Option<f64>,
    /// t's ground distance (default: ordered when every sensitive value is
    /// a number, else equal).
    #[arg(long, value_enum, requires = "t")]
    t_distance: Option<DistanceArg>,
    /// A hierarchy in ARX's layout for a quasi-identifier: one row per
    /// value, then its generalizations up to `*`, `,` or `;` separated, no
    /// header. Repeat per column.
    #[arg(long, value_name = "COLUMN=FILE")]
    hierarchy: Vec<String>,
    /// Share of records that may be suppressed (left out), in [0, 1].
    #[arg(long, default_value_t = 0.0)]
    max_suppression: f64,
    /// Direct identifiers: removed from the output. Repeat or comma-separate.
    #[arg(long, value_name = "COLUMN", value_delimiter = ',')]
    id: Vec<String>,
    /// A population table (CSV with the quasi-identifiers) for the
    /// journalist risk; without it that risk is the prosecutor's.
    #[arg(long, value_name = "CSV")]
    population: Option<PathBuf>,
    /// Where to write the anonymized records.
    #[arg(long, value_name = "CSV")]
    out: PathBuf,
}

/// Runs `renkei anonymize`.
pub fn run(args: AnonymizeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let table = Table::from_csv_path(&args.input)
        .with_context(|| format!("reading records from {}", args.input.display()))?;
    let population = args
        .population
        .as_deref()
        .map(|p| {
            Table::from_csv_path(p)
                .with_context(|| format!("reading the population from {}", p.display()))
        })
        .transpose()?;
    let config = config(&args, &table, population.as_ref())?;
    println!(
        "anonymizing {} records of {}: {}, at most {} suppressed",
        table.rows(),
        args.input.display(),
        config.models(),
        percent(config.max_suppression),
    );
    for q in &config.quasi {
        let h = &config.hierarchies[q];
        let levels: Vec<&str> = (0..h.height()).map(|l| h.level_name(l)).collect();
        println!("  {q}: {} [{}]", h.description(), levels.join(" → "));
    }
    let kept: Vec<&str> = table
        .names()
        .filter(|n| {
            !config.quasi.iter().any(|q| q == n)
                && config.sensitive.as_deref() != Some(*n)
                && !config.identifiers.iter().any(|i| i == n)
        })
        .collect();
    if !kept.is_empty() {
        println!(
            "  kept as they are (neither quasi-identifying nor sensitive): {}",
            kept.join(", ")
        );
    }
    let outcome = match &population {
        Some(p) => anonymize_against(&table, &config, p),
        None => anonymize(&table, &config),
    }
    .context("anonymizing")?;
    outcome
        .table
        .write_csv_path(&args.out)
        .with_context(|| format!("writing the anonymized records to {}", args.out.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    print!("{}", report_text(&outcome, &config));
    println!(
        "wrote {} records to {} in {seconds:.3}s",
        outcome.table.rows(),
        args.out.display()
    );
    println!("{}", report_json(&outcome, &config, &args.out, seconds));
    Ok(())
}

fn percent(share: f64) -> String {
    format!("{:.2}%", share * 100.0)
}

/// The configuration from the flags, with hierarchies read or built.
fn config(
    args: &AnonymizeArgs,
    table: &Table,
    population: Option<&Table>,
) -> anyhow::Result<Config> {
    let mut files: HashMap<String, PathBuf> = HashMap::new();
    for spec in &args.hierarchy {
        let Some((column, file)) = spec.split_once('=') else {
            bail!("--hierarchy {spec:?}: write COLUMN=FILE");
        };
        if !args.quasi.iter().any(|q| q == column) {
            bail!(
                "--hierarchy {spec:?}: {column:?} is not among the quasi-identifiers ({})",
                args.quasi.join(", ")
            );
        }
        files.insert(column.to_owned(), PathBuf::from(file));
    }
    let mut config = Config::new(args.quasi.iter().cloned(), args.k);
    config.sensitive = args.sensitive.clone();
    config.identifiers = args.id.clone();
    config.max_suppression = args.max_suppression;
    config.l = args.l.map(|l| LDiversity {
        l,
        kind: match args.l_kind {
            LKindArg::Distinct => LKind::Distinct,
            LKindArg::Entropy => LKind::Entropy,
        },
    });
    if let Some(t) = args.t {
        let distance = match args.t_distance {
            Some(DistanceArg::Equal) => GroundDistance::Equal,
            Some(DistanceArg::Ordered) => GroundDistance::Ordered,
            None => {
                let s = args.sensitive.as_deref().context("--t needs --sensitive")?;
                let column = table
                    .column(s)
                    .with_context(|| format!("the sensitive column {s:?} is not in the input"))?;
                GroundDistance::for_values(column.dictionary().iter().map(String::as_str))
            }
        };
        config.t = Some(TCloseness { t, distance });
    }
    for q in &args.quasi {
        let hierarchy = match files.get(q) {
            Some(path) => Hierarchy::from_arx_path(path).with_context(|| {
                format!("reading the hierarchy of {q:?} from {}", path.display())
            })?,
            None => {
                let column = table.column(q).with_context(|| {
                    format!(
                        "quasi-identifier {q:?} is not a column of {} (the columns are {})",
                        args.input.display(),
                        table.names().collect::<Vec<_>>().join(", ")
                    )
                })?;
                // The population's values need a place in the hierarchy too.
                let extra = population
                    .and_then(|p| p.column(q))
                    .map(|c| c.dictionary())
                    .unwrap_or_default();
                let values = column.dictionary().iter().chain(extra).map(String::as_str);
                Hierarchy::auto(q, values)
                    .with_context(|| format!("building a hierarchy for {q:?}"))?
            }
        };
        config.hierarchies.insert(q.clone(), hierarchy);
    }
    Ok(config)
}

fn report_text(outcome: &Outcome, config: &Config) -> String {
    let r = &outcome.report;
    let mut s = String::from("generalization:\n");
    for g in &r.generalization {
        s.push_str(&format!(
            "  {}: level {} of {} ({}), loss {:.4}\n",
            g.column,
            g.level,
            g.height - 1,
            g.level_name,
            g.loss
        ));
    }
    s.push_str(&format!(
        "suppressed {} of {} records ({}; at most {} allowed)\n",
        r.suppressed,
        r.input_records,
        percent(r.suppressed as f64 / r.input_records.max(1) as f64),
        r.suppression_budget,
    ));
    s.push_str(&format!(
        "classes {}, average size {:.2}; verified independently: k {}",
        r.classes, r.average_class_size, r.verified.k
    ));
    if config.sensitive.is_some() {
        s.push_str(&format!(
            ", distinct l {}, entropy l {:.3}",
            r.verified.l_distinct.unwrap_or(0),
            r.verified.l_entropy.unwrap_or(0.0)
        ));
    }
    if let Some(t) = r.verified.t {
        s.push_str(&format!(", t {t:.4}"));
    }
    s.push('\n');
    let risk = &r.risk;
    s.push_str(&format!(
        "risk: prosecutor highest {:.4} ({} records), average {:.4}; journalist highest {:.4}, average {:.4} ({}); marketer {:.4}\n",
        risk.prosecutor.highest,
        risk.prosecutor.records_at_highest,
        risk.prosecutor.average,
        risk.journalist.highest,
        risk.journalist.average,
        risk.population_records.map_or("no population given: equals the prosecutor's".to_owned(), |n| format!("against a population of {n}")),
        risk.marketer,
    ));
    s.push_str(&format!(
        "utility: information loss {:.4} (ARX Loss, 0 = original, 1 = all suppressed), discernibility {:.0}\n",
        r.information_loss, r.discernibility
    ));
    s.push_str(&format!(
        "search: {} of {} lattice nodes checked, {} tagged, {} pruned by the loss bound, {:.3}s\n",
        r.search.checked, r.search.nodes, r.search.tagged, r.search.pruned, r.search.seconds
    ));
    s
}

fn report_json(outcome: &Outcome, config: &Config, out: &Path, seconds: f64) -> serde_json::Value {
    let r = &outcome.report;
    let risk = |x: &renkei_deid::anonymize::Risk| json!({"highest": x.highest, "average": x.average, "records_at_highest": x.records_at_highest});
    json!({
        "ok": true,
        "records": r.input_records,
        "output_records": r.records,
        "suppressed": r.suppressed,
        "suppression_budget": r.suppression_budget,
        "k": config.k,
        "l": config.l.map(|l| json!({"l": l.l, "kind": l.kind.as_str()})),
        "t": config.t.map(|t| json!({"t": t.t, "distance": t.distance.as_str()})),
        "generalization": r.generalization.iter().map(|g| json!({
            "column": g.column, "level": g.level, "top": g.height - 1, "name": g.level_name, "loss": g.loss,
        })).collect::<Vec<_>>(),
        "classes": r.classes,
        "average_class_size": r.average_class_size,
        "verified": {
            "k": r.verified.k, "l_distinct": r.verified.l_distinct,
            "l_entropy": r.verified.l_entropy, "t": r.verified.t,
        },
        "risk": {
            "prosecutor": risk(&r.risk.prosecutor),
            "journalist": risk(&r.risk.journalist),
            "population_records": r.risk.population_records,
            "marketer": r.risk.marketer,
        },
        "information_loss": r.information_loss,
        "loss_metric": "arx_loss",
        "discernibility": r.discernibility,
        "search": {
            "nodes": r.search.nodes, "checked": r.search.checked, "tagged": r.search.tagged,
            "pruned": r.search.pruned, "seconds": r.search.seconds,
        },
        "out": out.display().to_string(),
        "seconds": seconds,
    })
}
