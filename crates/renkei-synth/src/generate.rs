//! The generator: persons one by one, each from its own RNG stream, their
//! visits to providers, and every record those providers keep.

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::fhir::{self, PatientView};
use crate::output::{Kind, Sink};
use crate::person::{Person, Tables, WINDOW_END, WINDOW_START};
use crate::provider::{self, Directory, Provider, ProviderKind};
use crate::sample::{chance, normal};
use crate::tables::clinical::{
    ALLERGENS, ALT, ANALGESIC, AST, CKD, CREATININE, DIABETES, DISEASES, DRUGS, DYSLIPIDAEMIA,
    EGFR, GLUCOSE, HBA1C, HDL, HYPERTENSION, IMAGING, LABS, LDL, PROCEDURES, Setting, Sex, TG,
    URIC_ACID,
};
use crate::variant::{self, VariantRates};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    /// Number of persons.
    pub patients: u64,
    /// Number of providers.
    pub providers: u32,
    /// Seed: the same options give byte-identical output.
    pub seed: u64,
    /// Rates of disagreement between providers.
    pub rates: VariantRates,
    /// Also write each patient's records at a provider as one transaction
    /// Bundle (`Bundle.ndjson`); doubles the output size.
    pub bundles: bool,
}

/// What was generated.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Persons generated.
    pub persons: u64,
    /// Providers generated.
    pub providers: usize,
    /// Resources written per resourceType.
    pub resources: Vec<(&'static str, u64)>,
}

impl Summary {
    /// All resources written.
    pub fn total(&self) -> u64 {
        self.resources.iter().map(|(_, n)| n).sum()
    }
}

/// The RNG stream of the provider list; persons use streams 1..=N.
const PROVIDER_STREAM: u64 = 0;

fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // ChaCha streams are independent: person n's draws do not depend on how
    // many draws person n-1 made, so a change to one person's logic does
    // not reshuffle everyone after it.
    rng.set_stream(stream);
    rng
}

/// Generates the population into `dir` (created; must be new or empty).
pub fn generate(options: &Options, dir: &Path) -> Result<Summary> {
    if options.patients == 0 {
        return Err(Error::InvalidOptions(
            "--patients must be at least 1".into(),
        ));
    }
    if options.providers < 2 {
        return Err(Error::InvalidOptions(
            "--providers must be at least 2 (a care provider and a pharmacy)".into(),
        ));
    }
    let tables = Tables::new();
    let providers = provider::generate(
        options.providers,
        &tables,
        &mut rng_for(options.seed, PROVIDER_STREAM),
    );
    let directory = Directory::new(&providers);
    let mut sink = Sink::create(dir, &providers, options.bundles)?;
    for (i, p) in providers.iter().enumerate() {
        sink.write(i, Kind::Organization, &fhir::organization(p))?;
    }
    for number in 1..=options.patients {
        let mut rng = rng_for(options.seed, number);
        let person = Person::generate(number, &tables, &options.rates, &mut rng);
        person_records(
            &person,
            &providers,
            &directory,
            &options.rates,
            &mut sink,
            &mut rng,
        )?;
    }
    Ok(Summary {
        persons: options.patients,
        providers: providers.len(),
        resources: sink.finish()?,
    })
}

/// The person's lab baselines, so that repeated tests agree with each other
/// and with the diagnoses (diabetics have a high HbA1c, CKD a low eGFR).
struct Baselines {
    hba1c: f64,
    glucose: f64,
    ldl: f64,
    hdl: f64,
    tg: f64,
    egfr: f64,
    ast: f64,
    alt: f64,
    uric_acid: f64,
    systolic: f64,
}

impl Baselines {
    fn draw(p: &Person, rng: &mut impl Rng) -> Self {
        let age = f64::from(p.age_on(WINDOW_START));
        let female = p.sex == Sex::Female;
        let diabetic = p.has(DIABETES);
        Self {
            hba1c: if diabetic {
                normal(rng, 7.3, 0.9).max(6.2)
            } else {
                normal(rng, 5.5, 0.3)
            },
            glucose: if diabetic {
                normal(rng, 145.0, 30.0).max(100.0)
            } else {
                normal(rng, 92.0, 8.0)
            },
            ldl: if p.has(DYSLIPIDAEMIA) {
                normal(rng, 155.0, 28.0)
            } else {
                normal(rng, 115.0, 25.0)
            },
            hdl: normal(rng, if female { 66.0 } else { 55.0 }, 13.0).max(25.0),
            tg: normal(rng, 115.0, 45.0).max(35.0),
            egfr: if p.has(CKD) {
                normal(rng, 45.0, 8.0)
            } else {
                normal(rng, 105.0 - 0.6 * age, 12.0)
            }
            .clamp(8.0, 150.0),
            ast: normal(rng, 22.0, 6.0).max(8.0),
            alt: normal(rng, if female { 16.0 } else { 22.0 }, 8.0).max(5.0),
            uric_acid: normal(rng, if female { 4.6 } else { 6.0 }, 1.0).max(2.0),
            // Systolic pressure rises about 0.5 mmHg a year of age (国民健康・
            // 栄養調査); treated hypertensives stay some 15 mmHg above others.
            systolic: normal(
                rng,
                108.0 + 0.5 * age + if p.has(HYPERTENSION) { 15.0 } else { 0.0 },
                10.0,
            )
            .clamp(85.0, 200.0),
        }
    }

    /// A measurement of `lab` for a person of this age and sex, with noise.
    fn value(&self, lab: usize, age: u32, sex: Sex, rng: &mut impl Rng) -> f64 {
        let jitter = |rng: &mut _, v: f64, sd: f64| normal(rng, v, sd).max(0.0);
        match lab {
            HBA1C => jitter(rng, self.hba1c, 0.2),
            GLUCOSE => jitter(rng, self.glucose, 10.0),
            LDL => jitter(rng, self.ldl, 10.0),
            HDL => jitter(rng, self.hdl, 4.0),
            TG => jitter(rng, self.tg, 25.0),
            EGFR | CREATININE => {
                let egfr = jitter(rng, self.egfr, 4.0).max(3.0);
                if lab == EGFR {
                    egfr
                } else {
                    // JSN eGFR equation, inverted: eGFR = 194·Cr^-1.094·age^-0.287 (×0.739 ♀).
                    let f = if sex == Sex::Female { 0.739 } else { 1.0 };
                    let a = f64::from(age.max(18));
                    (egfr / (194.0 * a.powf(-0.287) * f)).powf(-1.0 / 1.094)
                }
            }
            AST => jitter(rng, self.ast, 3.0),
            ALT => jitter(rng, self.alt, 4.0),
            URIC_ACID => jitter(rng, self.uric_acid, 0.4),
            _ => 0.0,
        }
    }
}

fn round(v: f64, decimals: u8) -> f64 {
    let f = 10f64.powi(i32::from(decimals));
    (v * f).round() / f
}

/// One provider's view of the person (drawn independently per provider).
pub fn draw_view<'a>(
    person: &'a Person,
    first_day: i32,
    rates: &VariantRates,
    rng: &mut impl Rng,
) -> PatientView<'a> {
    let (sk, sy, gk, gy) = person.names_on(first_day);
    let family = if variant::has_kanji_variant(sk) && chance(rng, rates.kanji_variant) {
        variant::kanji_variant(sk)
    } else {
        sk.to_owned()
    };
    let kana = (!chance(rng, rates.missing_kana)).then(|| {
        let (mut f, mut g) = (sy.to_owned(), gy.to_owned());
        if chance(rng, rates.kana_typo) {
            if chance(rng, 0.5) {
                f = variant::kana_typo(&f, rng);
            } else {
                g = variant::kana_typo(&g, rng);
            }
        }
        if chance(rng, rates.halfwidth_kana) {
            f = variant::halfwidth_kana(&f);
            g = variant::halfwidth_kana(&g);
        }
        (f, g)
    });
    PatientView {
        id: format!("{:016x}", rng.r#gen::<u64>()),
        mrn: format!("{:08}", rng.gen_range(0..100_000_000u32)),
        family,
        given: gk,
        kana,
        separator: if chance(rng, 0.3) { "\u{3000}" } else { " " },
        sex: person.sex,
        birth: (!chance(rng, rates.missing_birth_date)).then_some(person.birth),
        home: (!chance(rng, rates.missing_address)).then(|| person.home_on(first_day)),
        insurance: (!chance(rng, rates.missing_insurance)).then(|| person.insurance_on(first_day)),
        fullwidth: chance(rng, rates.fullwidth_digits),
        deceased: None,
    }
}

/// A visit plan: the provider and the days of its encounters.
struct Plan {
    provider: usize,
    days: Vec<i32>,
}

/// A prescription a pharmacy will fill.
struct Prescription {
    drug: usize,
    days: u32,
    day: i32,
    prescriber: usize,
    /// Rp number on the prescription.
    rp: u32,
}

fn person_records(
    person: &Person,
    providers: &[Provider],
    directory: &Directory,
    rates: &VariantRates,
    sink: &mut Sink,
    rng: &mut ChaCha8Rng,
) -> Result<()> {
    let first = WINDOW_START.max(person.birth + 1);
    let last = person.death.unwrap_or(WINDOW_END).min(WINDOW_END);
    if last <= first {
        return Ok(());
    }
    let pref = person.homes[0].pref;
    let age = person.age_on(WINDOW_START);

    // Which care providers: more for the old and the ill; a hospital for cancer.
    let mut wanted = rng.gen_range(1..=2)
        + usize::from(!person.diagnoses.is_empty())
        + usize::from(age >= 65 && chance(rng, 0.5));
    wanted = wanted.min(4);
    let mut chosen: Vec<usize> = Vec::with_capacity(wanted + 1);
    let cancer = person.diagnoses.iter().any(|d| {
        DISEASES
            .get(d.disease)
            .is_some_and(|d| d.setting == Setting::Hospital)
    });
    if cancer && let Some(h) = directory.hospital(pref, providers, rng) {
        chosen.push(h);
    }
    for _ in 0..8 {
        if chosen.len() >= wanted {
            break;
        }
        if let Some(p) = directory.care(pref, rng)
            && !chosen.contains(&p)
        {
            chosen.push(p);
        }
    }
    let plans: Vec<Plan> = chosen
        .into_iter()
        .map(|provider| {
            let kind = providers[provider].kind;
            let n = if kind == ProviderKind::Clinic {
                rng.gen_range(2..=6)
            } else {
                rng.gen_range(1..=4)
            };
            let mut days: Vec<i32> = (0..n).map(|_| rng.gen_range(first..=last)).collect();
            days.sort_unstable();
            days.dedup();
            Plan { provider, days }
        })
        .collect();
    // The provider seen last records the death (it is where the person
    // died or was last treated); others do not know of it.
    let death_recorder = person.death.and_then(|_| {
        plans
            .iter()
            .enumerate()
            .max_by_key(|(_, p)| p.days.last().copied().unwrap_or(0))
            .map(|(i, _)| i)
    });

    let base = Baselines::draw(person, rng);
    let mut prescriptions: Vec<Prescription> = Vec::new();
    for (plan_no, plan) in plans.iter().enumerate() {
        let provider = &providers[plan.provider];
        let first_day = plan.days.first().copied().unwrap_or(first);
        let mut view = draw_view(person, first_day, rates, rng);
        if death_recorder == Some(plan_no) {
            view.deceased = person.death.map(|d| (d, rng.gen_range(0..1440)));
        }
        sink.begin_bundle(plan.provider, &view.id);
        write_patient(sink, plan.provider, provider, &view, person.number)?;
        let pid = view.id.as_str();
        let hospital = provider.kind.is_hospital();
        // Diseases managed here: cancers only in hospitals; chronic ones
        // in some of the places the person goes.
        let treated: Vec<(usize, i32)> = person
            .diagnoses
            .iter()
            .filter(|d| match DISEASES.get(d.disease).map(|d| d.setting) {
                Some(Setting::Hospital) => hospital,
                Some(Setting::Any) => chance(rng, if hospital { 0.4 } else { 0.7 }),
                None => false,
            })
            .map(|d| (d.disease, d.onset))
            .collect();
        let mut recorded = vec![false; treated.len()];
        let mut procedure_done = vec![false; treated.len()];
        for (enc_no, &day) in plan.days.iter().enumerate() {
            let minute = rng.gen_range(540..1020);
            let eid = format!("{pid}-e{enc_no}");
            let inpatient = (hospital && chance(rng, 0.15)).then(|| rng.gen_range(2..15));
            sink.write(
                plan.provider,
                Kind::Encounter,
                &fhir::encounter(&eid, pid, provider, day, minute, inpatient),
            )?;
            let mut n = 0u32;
            // Rp numbers of this encounter's prescription, 1-based.
            let mut rp = 0u32;
            let mut next_id = |prefix: &str| {
                n += 1;
                format!("{eid}-{prefix}{n}")
            };
            for (t, &(disease, onset)) in treated.iter().enumerate() {
                if onset > day {
                    continue;
                }
                let Some(d) = DISEASES.get(disease) else {
                    continue;
                };
                if !recorded[t] {
                    recorded[t] = true;
                    sink.write(
                        plan.provider,
                        Kind::Condition,
                        &fhir::condition(&next_id("c"), pid, &eid, d, onset, day),
                    )?;
                }
                if let Some(drug_no) = d.drug.filter(|_| chance(rng, 0.8)) {
                    let days = [14, 28, 30, 56][rng.gen_range(0..4)];
                    if let Some(drug) = DRUGS.get(drug_no) {
                        rp += 1;
                        let r = fhir::medication_request(
                            &next_id("m"),
                            pid,
                            &eid,
                            drug,
                            days,
                            rp,
                            (day, minute + 10),
                        );
                        sink.write(plan.provider, Kind::MedicationRequest, &r)?;
                        if inpatient.is_none() {
                            prescriptions.push(Prescription {
                                drug: drug_no,
                                days,
                                day,
                                prescriber: plan.provider,
                                rp,
                            });
                        }
                    }
                }
                if let Some(p) = d
                    .procedure
                    .filter(|_| !procedure_done[t] && chance(rng, if hospital { 0.7 } else { 0.3 }))
                {
                    procedure_done[t] = true;
                    if let Some(p) = PROCEDURES.get(p) {
                        sink.write(
                            plan.provider,
                            Kind::Procedure,
                            &fhir::procedure(&next_id("p"), pid, &eid, p, day),
                        )?;
                    }
                }
            }
            if chance(rng, 0.08)
                && let Some(drug) = DRUGS.get(ANALGESIC)
            {
                rp += 1;
                let r = fhir::medication_request(
                    &next_id("m"),
                    pid,
                    &eid,
                    drug,
                    5,
                    rp,
                    (day, minute + 10),
                );
                sink.write(plan.provider, Kind::MedicationRequest, &r)?;
                if inpatient.is_none() {
                    prescriptions.push(Prescription {
                        drug: ANALGESIC,
                        days: 5,
                        day,
                        prescriber: plan.provider,
                        rp,
                    });
                }
            }
            if chance(rng, 0.02)
                && let Some(p) = PROCEDURES.first()
            {
                sink.write(
                    plan.provider,
                    Kind::Procedure,
                    &fhir::procedure(&next_id("p"), pid, &eid, p, day),
                )?;
            }
            if chance(rng, if person.has(HYPERTENSION) { 0.9 } else { 0.4 })
                && person.age_on(day) >= 6
            {
                let sbp = normal(rng, base.systolic, 8.0).clamp(80.0, 230.0);
                let dbp = normal(rng, sbp * 0.6, 6.0).clamp(40.0, sbp - 20.0);
                // Whole mmHg, as sphygmomanometers show them.
                let (sbp, dbp) = (sbp.round() as u32, dbp.round() as u32);
                let o = fhir::blood_pressure(&next_id("v"), pid, &eid, sbp, dbp, day, minute + 2);
                sink.write(plan.provider, Kind::Observation, &o)?;
            }
            // Labs: a panel chosen by what the person has.
            let labs_p = if person.has(DIABETES) || person.has(CKD) {
                0.8
            } else {
                0.4
            };
            if chance(rng, labs_p) {
                let age_now = person.age_on(day);
                let mut panel: Vec<usize> = Vec::with_capacity(LABS.len());
                if person.has(DIABETES) || chance(rng, 0.3) {
                    panel.extend([HBA1C, GLUCOSE]);
                }
                if person.has(DYSLIPIDAEMIA) || chance(rng, 0.3) {
                    panel.extend([LDL, HDL, TG]);
                }
                if person.has(CKD) || person.has(HYPERTENSION) || age_now >= 60 || chance(rng, 0.3)
                {
                    panel.extend([CREATININE, EGFR]);
                }
                if chance(rng, 0.4) {
                    panel.extend([AST, ALT]);
                }
                if chance(rng, 0.15) {
                    panel.push(URIC_ACID);
                }
                for lab_no in panel {
                    let Some(lab) = LABS.get(lab_no) else {
                        continue;
                    };
                    let v = round(base.value(lab_no, age_now, person.sex, rng), lab.decimals);
                    let o = fhir::observation(&next_id("o"), pid, &eid, lab, v, day, minute + 5);
                    sink.write(plan.provider, Kind::Observation, &o)?;
                }
            }
            if hospital && chance(rng, 0.25) {
                let kind = &IMAGING[rng.gen_range(0..IMAGING.len())];
                let uids = (rng.r#gen::<u128>(), rng.r#gen::<u128>());
                let n_inst = rng.gen_range(1..300);
                let s = fhir::imaging_study(
                    &next_id("i"),
                    pid,
                    &eid,
                    kind,
                    (day, minute + 30),
                    uids,
                    n_inst,
                );
                sink.write(plan.provider, Kind::ImagingStudy, &s)?;
            }
            if enc_no == 0
                && let Some(a) = person
                    .allergy
                    .and_then(|a| ALLERGENS.get(a))
                    .filter(|_| chance(rng, 0.6))
            {
                sink.write(
                    plan.provider,
                    Kind::AllergyIntolerance,
                    &fhir::allergy(&next_id("a"), pid, a, day),
                )?;
            }
        }
        sink.end_bundle()?;
    }

    // Outpatient prescriptions are filled at a pharmacy near home (医薬分業).
    if !prescriptions.is_empty()
        && let Some(ph) = directory.pharmacy(pref, rng)
    {
        let first_day = prescriptions.iter().map(|p| p.day).min().unwrap_or(first);
        let view = draw_view(person, first_day, rates, rng);
        sink.begin_bundle(ph, &view.id);
        write_patient(sink, ph, &providers[ph], &view, person.number)?;
        for (i, p) in prescriptions.iter().enumerate() {
            let (Some(drug), Some(prescriber)) = (DRUGS.get(p.drug), providers.get(p.prescriber))
            else {
                continue;
            };
            let id = format!("{}-d{i}", view.id);
            let minute = rng.gen_range(600..1140);
            let d = fhir::medication_dispense(
                &id,
                &view.id,
                drug,
                p.days,
                p.rp,
                (p.day, minute),
                prescriber,
            );
            sink.write(ph, Kind::MedicationDispense, &d)?;
        }
        sink.end_bundle()?;
    }
    Ok(())
}

fn write_patient(
    sink: &mut Sink,
    index: usize,
    provider: &Provider,
    view: &PatientView<'_>,
    person: u64,
) -> Result<()> {
    sink.write(index, Kind::Patient, &fhir::patient(provider, view))?;
    if let Some(c) = fhir::coverage(view) {
        sink.write(index, Kind::Coverage, &c)?;
    }
    sink.truth(index, &view.id, person)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;
    use crate::person::{Home, Insurance, InsuranceKind};

    fn options(seed: u64) -> Options {
        Options {
            patients: 150,
            providers: 12,
            seed,
            rates: VariantRates::default(),
            bundles: true,
        }
    }

    /// Every file under `dir`, by relative path, with its bytes.
    fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![dir.to_owned()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).expect("readable output directory") {
                let path = entry.expect("a directory entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path
                        .strip_prefix(dir)
                        .expect("under dir")
                        .display()
                        .to_string();
                    out.insert(rel, std::fs::read(&path).expect("readable output file"));
                }
            }
        }
        out
    }

    #[test]
    fn same_seed_gives_identical_bytes_and_another_seed_does_not() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let (a, b, c) = (
            tmp.path().join("a"),
            tmp.path().join("b"),
            tmp.path().join("c"),
        );
        generate(&options(7), &a).expect("first run");
        generate(&options(7), &b).expect("second run");
        generate(&options(8), &c).expect("other seed");
        let (fa, fb, fc) = (files(&a), files(&b), files(&c));
        assert!(
            fa.len() > 12,
            "expected a directory per provider with files"
        );
        assert_eq!(fa, fb);
        assert_ne!(fa.get("truth.csv"), fc.get("truth.csv"));
        assert_ne!(fa, fc);
    }

    #[test]
    fn a_non_empty_output_directory_is_refused() {
        let tmp = tempfile::tempdir().expect("temp dir");
        std::fs::write(tmp.path().join("old"), b"x").expect("write");
        let err = generate(&options(1), tmp.path()).expect_err("must refuse");
        assert!(matches!(err, Error::InvalidOptions(_)), "{err}");
    }

    #[test]
    fn the_true_person_number_never_appears_in_identifying_fields() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let out = tmp.path().join("n");
        generate(&options(3), &out).expect("generate");
        let truth = std::fs::read_to_string(out.join("truth.csv")).expect("truth");
        let mut number_of: BTreeMap<(String, String), String> = BTreeMap::new();
        for line in truth.lines().skip(1) {
            let cols: Vec<&str> = line.split(',').collect();
            assert_eq!(cols.len(), 3, "{line}");
            number_of.insert((cols[0].to_owned(), cols[1].to_owned()), cols[2].to_owned());
        }
        let mut ids_of_person: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (rel, bytes) in files(&out) {
            if rel == "truth.csv" {
                continue;
            }
            let text = String::from_utf8(bytes).expect("utf-8");
            assert!(
                !text.contains("person_number") && !text.contains("truth"),
                "{rel}"
            );
            if !rel.ends_with("Patient.ndjson") {
                continue;
            }
            let provider = rel.split('/').next().expect("provider dir").to_owned();
            for line in text.lines() {
                let v: serde_json::Value = serde_json::from_str(line).expect("json");
                let id = v["id"].as_str().expect("id").to_owned();
                let n = number_of
                    .get(&(provider.clone(), id.clone()))
                    .expect("in truth")
                    .clone();
                let padded = format!("{:0>8}", n);
                for ident in v["identifier"].as_array().expect("identifiers") {
                    let value = ident["value"].as_str().expect("value");
                    assert_ne!(value, n);
                    assert_ne!(value, padded);
                }
                assert_ne!(id, n);
                ids_of_person.entry(n).or_default().push(id);
            }
        }
        // Ids of one person at different providers share nothing that
        // would link them: they are independent random draws.
        for ids in ids_of_person.values() {
            let mut sorted = ids.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), ids.len());
        }
    }

    fn person(surname: &str) -> Person {
        let surname = crate::tables::names::SURNAMES
            .iter()
            .position(|s| s.0 == surname)
            .expect("surname in the table");
        let home = Home {
            pref: 12,
            muni: 0,
            town: 0,
            chome: 1,
            banchi: 2,
            go: 3,
            from: 0,
        };
        let insurance = Insurance {
            kind: InsuranceKind::Kyokai,
            insurer: "01130012".into(),
            symbol: "123".into(),
            number: "45".into(),
            branch: Some(0),
            from: 0,
        };
        Person {
            number: 1,
            sex: Sex::Male,
            birth: WINDOW_START - 365 * 40,
            surname,
            married: None,
            given: 0,
            homes: vec![home],
            insurances: vec![insurance],
            death: None,
            diagnoses: Vec::new(),
            allergy: None,
        }
    }

    #[test]
    fn variants_occur_at_the_configured_rates() {
        let rates = VariantRates::default();
        let p = person("高橋");
        let (_, kana, _, _) = p.names_on(WINDOW_START);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let n = 20_000;
        let (mut kanji, mut missing_kana, mut no_address, mut no_insurance, mut changed_kana) =
            (0, 0, 0, 0, 0);
        for _ in 0..n {
            let v = draw_view(&p, WINDOW_START, &rates, &mut rng);
            kanji += usize::from(v.family != "高橋");
            match &v.kana {
                None => missing_kana += 1,
                Some((f, _)) => changed_kana += usize::from(f != kana),
            }
            no_address += usize::from(v.home.is_none());
            no_insurance += usize::from(v.insurance.is_none());
        }
        let rate = |k: usize| k as f64 / f64::from(n);
        let near = |got: f64, want: f64| (got - want).abs() < 0.01 + want * 0.15;
        assert!(
            near(rate(kanji), rates.kanji_variant),
            "kanji {}",
            rate(kanji)
        );
        assert!(
            near(rate(missing_kana), rates.missing_kana),
            "missing kana {}",
            rate(missing_kana)
        );
        assert!(
            near(rate(no_address), rates.missing_address),
            "address {}",
            rate(no_address)
        );
        assert!(
            near(rate(no_insurance), rates.missing_insurance),
            "insurance {}",
            rate(no_insurance)
        );
        // Surname kana differs by a typo (half of typo draws) or half-width.
        let want = rates.kana_typo / 2.0 + rates.halfwidth_kana;
        assert!(
            near(rate(changed_kana), want),
            "kana changed {}",
            rate(changed_kana)
        );
    }

    #[test]
    fn no_variants_when_the_rates_are_zero() {
        let p = person("高橋");
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..1000 {
            let v = draw_view(&p, WINDOW_START, &VariantRates::none(), &mut rng);
            assert_eq!(v.family, "高橋");
            assert_eq!(v.kana.as_ref().map(|k| k.0.as_str()), Some("タカハシ"));
            assert!(v.home.is_some() && v.insurance.is_some() && v.birth.is_some());
        }
    }

    #[test]
    fn hypertensives_have_higher_blood_pressure() {
        let tables = Tables::new();
        let rates = VariantRates::default();
        let (mut ht, mut other) = (Vec::new(), Vec::new());
        for number in 1..3000 {
            let mut rng = rng_for(4, number);
            let p = Person::generate(number, &tables, &rates, &mut rng);
            let b = Baselines::draw(&p, &mut rng);
            if p.age_on(WINDOW_START) >= 40 {
                if p.has(HYPERTENSION) {
                    ht.push(b.systolic)
                } else {
                    other.push(b.systolic)
                }
            }
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!(
            mean(&ht) > mean(&other) + 10.0,
            "{} vs {}",
            mean(&ht),
            mean(&other)
        );
    }

    #[test]
    fn diabetics_have_higher_hba1c() {
        let tables = Tables::new();
        let rates = VariantRates::default();
        let (mut dm, mut other) = (Vec::new(), Vec::new());
        for number in 1..3000 {
            let mut rng = rng_for(9, number);
            let p = Person::generate(number, &tables, &rates, &mut rng);
            let b = Baselines::draw(&p, &mut rng);
            if p.has(DIABETES) {
                dm.push(b.hba1c)
            } else {
                other.push(b.hba1c)
            }
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!(!dm.is_empty());
        assert!(
            mean(&dm) > mean(&other) + 1.0,
            "{} vs {}",
            mean(&dm),
            mean(&other)
        );
    }
}
