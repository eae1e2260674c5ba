//! `renkei link`: probabilistic record linkage of CSV files, stand-alone.
//! Users point it at their own files, Japanese or not, so with no
//! `--config` it chooses the comparisons and blocking itself and prints
//! what it chose; a TOML configuration overrides any of it (the format is
//! documented in `renkei_identity::linkage::settings` and shown in
//! `link.example.toml` at the repository root).
//!
//! Files of Bloom-filter encodings (`id,clk,schema[,blocks]`, as `renkei
//! identity encode` writes them) are linked on the filters alone by their
//! Dice coefficient: privacy-preserving linkage, in which the platform
//! never sees a name. The pairs file then has `left_id,right_id,dice`.
//!
//! Output: the pairs at or above the link threshold as
//! `left_id,right_id,match_weight,probability` (`--out`), optionally the
//! clerical-review band (`--review`) and each record's entity
//! (`--clusters`). The plan goes to standard output, the summary (pairs
//! compared, links, entities, m and u per field and level) to standard
//! error, and the last line of standard output is one JSON summary.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use renkei_identity::linkage::{Input, Linker, Outcome, Settings, Table};
use renkei_identity::pprl::{ClkLinker, ClkOutcome, EncodedTable, MatchSettings};
use serde_json::json;

/// Arguments of `renkei link`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["dedupe", "left"])))]
pub struct LinkArgs {
    /// Find the duplicates within one CSV file.
    #[arg(long, value_name = "CSV", conflicts_with_all = ["left", "right"])]
    dedupe: Option<PathBuf>,
    /// Link this CSV file with --right: pairs one record of each.
    #[arg(long, value_name = "CSV", requires = "right")]
    left: Option<PathBuf>,
    /// The other file of --left; compared columns must have the same names.
    #[arg(long, value_name = "CSV", requires = "left")]
    right: Option<PathBuf>,
    /// The column naming each record (in both files when linking); never
    /// compared.
    #[arg(long, value_name = "COLUMN")]
    id: String,
    /// Linkage configuration (TOML): comparators, blocking, thresholds.
    /// Without it, everything is chosen from the data.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where to write the linked pairs.
    #[arg(long, value_name = "CSV", default_value = "pairs.csv")]
    out: PathBuf,
    /// Also write the pairs of the clerical-review band here.
    #[arg(long, value_name = "CSV")]
    review: Option<PathBuf>,
    /// Also write each record's entity here.
    #[arg(long, value_name = "CSV")]
    clusters: Option<PathBuf>,
    /// Bloom-filter files only: the Dice coefficient at or above which a
    /// pair is a link (default: read from the data).
    #[arg(long, value_name = "DICE")]
    dice_threshold: Option<f64>,
}

fn read_table(path: &Path) -> anyhow::Result<Table> {
    Table::from_path(path).with_context(|| format!("reading records from {}", path.display()))
}

fn read_settings(path: Option<&Path>) -> anyhow::Result<Settings> {
    let Some(path) = path else {
        return Ok(Settings::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading linkage configuration {}", path.display()))?;
    toml::from_str(&text)
        .with_context(|| format!("parsing linkage configuration {}", path.display()))
}

/// Runs `renkei link`.
pub fn run(args: LinkArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let settings = read_settings(args.config.as_deref())?;
    let (tables, mode) = match (&args.dedupe, &args.left, &args.right) {
        (Some(one), _, _) => (vec![read_table(one)?], "dedupe"),
        (None, Some(left), Some(right)) => (vec![read_table(left)?, read_table(right)?], "link"),
        _ => anyhow::bail!("give --dedupe FILE, or --left FILE and --right FILE"),
    };
    if tables.iter().any(EncodedTable::is_encoded) {
        return run_encoded(&args, &tables, mode, started);
    }
    if args.dice_threshold.is_some() {
        anyhow::bail!(
            "--dice-threshold applies to Bloom-filter files (renkei identity encode) only"
        );
    }
    let input = match tables.as_slice() {
        [one] => Input::Dedupe(one),
        [left, right] => Input::Link { left, right },
        _ => unreachable!("one or two tables were read above"),
    };
    let linker = Linker::new(input, &args.id, &settings).context("planning the linkage")?;
    println!("{}", linker.plan());
    let outcome = linker.run();

    linker
        .write_pairs(&outcome.links, &args.out)
        .context("writing the linked pairs")?;
    if let Some(path) = &args.review {
        linker
            .write_pairs(&outcome.review, path)
            .context("writing the clerical-review pairs")?;
    }
    if let Some(path) = &args.clusters {
        linker
            .write_clusters(&outcome.clusters, path)
            .context("writing the entities")?;
    }
    let seconds = started.elapsed().as_secs_f64();
    eprint!("{}", summary_text(&outcome, seconds));
    println!("{}", summary_json(&linker, &outcome, mode, &args, seconds));
    Ok(())
}

/// Privacy-preserving linkage of Bloom-filter files.
fn run_encoded(
    args: &LinkArgs,
    tables: &[Table],
    mode: &str,
    started: Instant,
) -> anyhow::Result<()> {
    if args.config.is_some() {
        anyhow::bail!(
            "--config sets comparisons of clear values; Bloom-filter files are compared by \
             their Dice coefficient only (use --dice-threshold)"
        );
    }
    let encoded = tables
        .iter()
        .zip(if tables.len() == 1 {
            ["input", ""]
        } else {
            ["left", "right"]
        })
        .map(|(t, side)| {
            if !EncodedTable::is_encoded(t) {
                anyhow::bail!(
                    "the {side} file has no clk and schema columns: both files must be \
                     Bloom-filter encodings to link them privately"
                );
            }
            EncodedTable::from_table(t, &args.id, side).context("reading the encodings")
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let linker = match encoded.as_slice() {
        [one] => ClkLinker::dedupe(one),
        [left, right] => ClkLinker::link(left, right)?,
        _ => unreachable!("one or two tables were read"),
    };
    let settings = MatchSettings {
        link_threshold: args.dice_threshold,
        ..MatchSettings::default()
    };
    println!(
        "Bloom-filter linkage (schema {}): Dice coefficients, candidates {}",
        encoded[0].schema,
        if linker.has_blocking() {
            "from the keyed blocking tokens"
        } else {
            "from every pair, with the popcount filter"
        }
    );
    let outcome = linker.run(&settings).context("linking the encodings")?;
    linker
        .write_pairs(&outcome.links, &args.out)
        .context("writing the linked pairs")?;
    if let Some(path) = &args.review {
        linker
            .write_pairs(&outcome.review, path)
            .context("writing the clerical-review pairs")?;
    }
    if let Some(path) = &args.clusters {
        write_encoded_clusters(&linker, &outcome, encoded[0].ids.len(), mode, path)
            .context("writing the entities")?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let s = &outcome.stats;
    eprintln!(
        "records {}; pairs compared {} of {:.0} ({})\nlinks {} at Dice >= {:.3} ({}); \
         clerical review {} at >= {:.3}; entities {} ({} with more than one record)\ntime {seconds:.3}s",
        s.records,
        s.pairs_compared,
        s.total_pairs,
        s.candidates,
        s.links,
        s.link_threshold,
        if s.threshold_automatic {
            "read from the data"
        } else {
            "given"
        },
        s.review,
        s.review_threshold,
        outcome.clusters.count,
        outcome.clusters.multi,
    );
    println!(
        "{}",
        json!({
            "ok": true,
            "mode": mode,
            "encoding": "bloom_filter",
            "schema": encoded[0].schema,
            "records": s.records,
            "pairs_compared": s.pairs_compared,
            "candidates": s.candidates,
            "links": s.links,
            "review": s.review,
            "clusters": outcome.clusters.count,
            "multi_record_clusters": outcome.clusters.multi,
            "dice_threshold": s.link_threshold,
            "dice_threshold_automatic": s.threshold_automatic,
            "review_threshold": s.review_threshold,
            "out": args.out.display().to_string(),
            "seconds": seconds,
        })
    );
    Ok(())
}

fn write_encoded_clusters(
    linker: &ClkLinker<'_>,
    outcome: &ClkOutcome,
    left: usize,
    mode: &str,
    path: &Path,
) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    if mode == "link" {
        w.write_record(["side", "id", "cluster"])?;
    } else {
        w.write_record(["id", "cluster"])?;
    }
    for (r, c) in outcome.clusters.of_record.iter().enumerate() {
        let id = linker.record_id(r as u32);
        let cluster = c.to_string();
        if mode == "link" {
            let side = if r < left { "left" } else { "right" };
            w.write_record([side, id, &cluster])?;
        } else {
            w.write_record([id, &cluster])?;
        }
    }
    w.flush()?;
    Ok(())
}

fn summary_text(outcome: &Outcome, seconds: f64) -> String {
    let s = &outcome.stats;
    let mut text = format!(
        "records {}; pairs compared {} of {:.0} ({} distinct comparison vectors)\n\
         links {}; clerical review {}; entities {} ({} with more than one record, {} joins refused by the guard)\n",
        s.records,
        s.pairs_compared,
        s.total_pairs,
        s.patterns,
        s.links,
        s.review,
        outcome.clusters.count,
        outcome.clusters.multi,
        outcome.clusters.refused,
    );
    for session in &outcome.training.sessions {
        text.push_str(&format!(
            "EM on {}: {} pairs, {:.0} expected matches, recall {}\n",
            session.rule,
            session.pairs,
            session.matches,
            session
                .recall
                .map_or("not estimated".to_owned(), |r| format!("{r:.3}")),
        ));
    }
    text.push_str(&outcome.model.to_string());
    let steps: Vec<String> = s
        .seconds
        .iter()
        .map(|(step, t)| format!("{step} {t:.3}s"))
        .collect();
    text.push_str(&format!("time {seconds:.3}s: {}\n", steps.join(", ")));
    text
}

fn summary_json(
    linker: &Linker<'_>,
    outcome: &Outcome,
    mode: &str,
    args: &LinkArgs,
    seconds: f64,
) -> serde_json::Value {
    let plan = linker.plan();
    let s = &outcome.stats;
    json!({
        "ok": true,
        "mode": mode,
        "records": s.records,
        "pairs_compared": s.pairs_compared,
        "links": s.links,
        "review": s.review,
        "clusters": outcome.clusters.count,
        "multi_record_clusters": outcome.clusters.multi,
        "lambda": outcome.model.lambda,
        "link_threshold": plan.link_threshold,
        "review_threshold": plan.review_threshold,
        "blocking": plan.blocking.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "blocking_automatic": plan.blocking_automatic,
        "fields": outcome.model.fields.iter().map(|f| json!({
            "column": f.column,
            "kind": f.kind.as_str(),
            "m_estimated": f.m_estimated,
            "levels": f.labels.iter().zip(&f.m).zip(&f.u).map(|((label, m), u)| json!({
                "level": label, "m": m, "u": u,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "ignored": plan.ignored.iter().map(|(c, _)| c).collect::<Vec<_>>(),
        "out": args.out.display().to_string(),
        "seconds": seconds,
    })
}
