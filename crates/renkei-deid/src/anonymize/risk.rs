//! Re-identification risk of an anonymized table under ARX's three
//! attacker models (El Emam, *Guide to the De-Identification of Personal
//! Health Information*, 2013; ARX's risk analysis):
//!
//! - **prosecutor**: the attacker knows the target is in the data. A record
//!   in a class of `f` records is re-identified with probability `1/f`:
//!   highest risk `1 / min f`, average risk `#classes / #records`.
//! - **journalist**: the attacker matches against a population (an
//!   identification database) and does not know who is in the sample. With
//!   the population's class sizes `F ≥ f` at the same generalization:
//!   highest `1 / min F`, average `Σ f/F / #records`. Without a population
//!   table it is reported equal to the prosecutor risk (the sample is taken
//!   as its own population: the upper bound), and the report says so.
//! - **marketer**: the expected share of records re-identified when the
//!   attacker tries all of them: `Σ f/F / #records`, which is
//!   `#classes / #records` without a population.

/// One attacker model's risk.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Risk {
    /// The highest probability of re-identifying one record.
    pub highest: f64,
    /// The mean over records.
    pub average: f64,
    /// Records facing the highest risk.
    pub records_at_highest: usize,
}

/// The three attacker models.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RiskReport {
    /// The attacker knows the target is in the data.
    pub prosecutor: Risk,
    /// The attacker matches against a population.
    pub journalist: Risk,
    /// Records in the population table, if one was given (otherwise the
    /// journalist risk is the prosecutor's).
    pub population_records: Option<usize>,
    /// Expected share of records re-identified by an attacker trying all.
    pub marketer: f64,
}

/// Assesses classes given as `(sample size f, population size F)`; `F` is
/// `None` without a population (then `F = f`), and is raised to `f` when
/// smaller (the population holds the sample).
pub(crate) fn assess(
    classes: impl IntoIterator<Item = (u64, Option<u64>)>,
    population_records: Option<usize>,
) -> RiskReport {
    let mut records = 0u64;
    let mut count = 0u64;
    let mut min_f = u64::MAX;
    let mut min_pop = u64::MAX;
    let mut at_min_f = 0u64;
    let mut at_min_pop = 0u64;
    let mut share = 0.0;
    for (f, pop) in classes {
        if f == 0 {
            continue;
        }
        let big_f = pop.unwrap_or(f).max(f);
        records += f;
        count += 1;
        share += f as f64 / big_f as f64;
        match f.cmp(&min_f) {
            std::cmp::Ordering::Less => {
                min_f = f;
                at_min_f = f;
            }
            std::cmp::Ordering::Equal => at_min_f += f,
            std::cmp::Ordering::Greater => {}
        }
        match big_f.cmp(&min_pop) {
            std::cmp::Ordering::Less => {
                min_pop = big_f;
                at_min_pop = f;
            }
            std::cmp::Ordering::Equal => at_min_pop += f,
            std::cmp::Ordering::Greater => {}
        }
    }
    if records == 0 {
        return RiskReport {
            population_records,
            ..RiskReport::default()
        };
    }
    let n = records as f64;
    let prosecutor = Risk {
        highest: 1.0 / min_f as f64,
        average: count as f64 / n,
        records_at_highest: at_min_f as usize,
    };
    let journalist = Risk {
        highest: 1.0 / min_pop as f64,
        average: share / n,
        records_at_highest: at_min_pop as usize,
    };
    RiskReport {
        prosecutor,
        journalist,
        population_records,
        marketer: share / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_population_the_journalist_is_the_prosecutor() {
        let r = assess([(2, None), (3, None), (5, None)], None);
        assert_eq!(r.prosecutor.highest, 0.5);
        assert_eq!(r.prosecutor.records_at_highest, 2);
        assert!((r.prosecutor.average - 0.3).abs() < 1e-12);
        assert_eq!(r.journalist, r.prosecutor);
        assert!((r.marketer - 0.3).abs() < 1e-12);
    }

    #[test]
    fn a_population_lowers_the_journalist_risk() {
        // Classes of 2 and 3 in the sample, 10 and 3 in the population.
        let r = assess([(2, Some(10)), (3, Some(1))], Some(13));
        assert_eq!(r.journalist.highest, 1.0 / 3.0);
        assert_eq!(r.journalist.records_at_highest, 3);
        assert!((r.marketer - (0.2 + 1.0) / 5.0).abs() < 1e-12);
        assert_eq!(r.prosecutor.highest, 0.5);
    }
}
