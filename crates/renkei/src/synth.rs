//! `renkei synth`: write a synthetic nation (FHIR NDJSON per provider and
//! the ground truth) for tests, benchmarks and demos.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

/// Arguments of `renkei synth`.
#[derive(Debug, clap::Args)]
pub struct SynthArgs {
    /// Number of persons.
    #[arg(long, default_value_t = 1000)]
    patients: u64,
    /// Number of providers (hospitals, clinics, pharmacies).
    #[arg(long, default_value_t = 100)]
    providers: u32,
    /// Seed; the same arguments give byte-identical output.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also write each patient's records at a provider as one transaction
    /// Bundle (DIR/<code>/Bundle.ndjson); doubles the output.
    #[arg(long)]
    bundles: bool,
    /// Output directory (created; must be new or empty).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

pub fn run(args: SynthArgs) -> anyhow::Result<()> {
    let options = renkei_synth::Options {
        patients: args.patients,
        providers: args.providers,
        seed: args.seed,
        rates: renkei_synth::VariantRates::default(),
        bundles: args.bundles,
    };
    let started = Instant::now();
    let summary = renkei_synth::generate(&options, &args.out).with_context(|| {
        format!(
            "generating a synthetic population into {}",
            args.out.display()
        )
    })?;
    let seconds = started.elapsed().as_secs_f64();
    for (kind, n) in &summary.resources {
        println!("{kind:>20} {n:>12}");
    }
    println!(
        "{} persons, {} providers, {} resources in {seconds:.1} s → {}",
        summary.persons,
        summary.providers,
        summary.total(),
        args.out.display()
    );
    Ok(())
}
