//! The true persons: who they are, where they live, how they are insured,
//! what they have, when they die. Providers see distorted views of these
//! (see [`crate::variant`]); only `truth.csv` ties the views back.

use rand::Rng;
use time::Date;

use crate::check_digit::with_check_digit;
use crate::sample::{Weighted, chance};
use crate::tables::clinical::{ALLERGENS, DISEASES, Setting, Sex};
use crate::tables::names::{
    FEMALE_GIVEN, GivenName, MALE_GIVEN, SURNAMES, era_of_birth_year, rank_weight,
};
use crate::tables::places::{PREFECTURES, TOWNS};
use crate::variant::VariantRates;

/// First day of the observation window (records fall inside it).
pub const WINDOW_START: i32 = 2_459_216; // 2021-01-01
/// Last day of the observation window.
pub const WINDOW_END: i32 = 2_461_041; // 2025-12-31

/// A Julian day number as a calendar date.
pub fn date(day: i32) -> Date {
    Date::from_julian_day(day).unwrap_or(Date::MIN)
}

/// Japan's population by 5-year age band on 2021-01-01 (‰ of the total,
/// 2020 census, 総務省統計局) with the share of women in each band (‰).
const AGE_BANDS: &[(u64, u64)] = &[
    (39, 488),
    (42, 488),
    (43, 488),
    (45, 487),
    (50, 488),
    (50, 490),
    (53, 492),
    (60, 494),
    (68, 495),
    (78, 496),
    (71, 498),
    (63, 501),
    (59, 506),
    (66, 515),
    (75, 527),
    (57, 553),
    (46, 594),
    (33, 655),
    (16, 736),
    (5, 812),
    (1, 870),
];

/// Immutable lookup tables built once per run.
#[derive(Debug)]
pub struct Tables {
    ages: Weighted,
    prefectures: Weighted,
    municipalities: Vec<Weighted>,
    surnames: Weighted,
    /// Given names per naming era (see [`GivenName`]).
    male: [Weighted; 3],
    female: [Weighted; 3],
}

impl Tables {
    /// Builds the weighted tables.
    pub fn new() -> Self {
        // A name of the person's own era is 20 times as likely as one of
        // another era at the same rank: cohorts differ, but not absolutely.
        let given = |table: &[GivenName], era: u8| {
            Weighted::new(
                table
                    .iter()
                    .enumerate()
                    .map(|(r, g)| u64::from(rank_weight(r)) * if g.2 == era { 20 } else { 1 }),
            )
        };
        let eras = |table: &[GivenName]| [given(table, 0), given(table, 1), given(table, 2)];
        Self {
            ages: Weighted::new(AGE_BANDS.iter().map(|&(w, _)| w)),
            prefectures: Weighted::new(PREFECTURES.iter().map(|p| u64::from(p.population))),
            municipalities: PREFECTURES
                .iter()
                .map(|p| Weighted::new(p.municipalities.iter().map(|&(_, w)| u64::from(w))))
                .collect(),
            surnames: Weighted::new(SURNAMES.iter().map(|s| u64::from(s.2))),
            male: eras(MALE_GIVEN),
            female: eras(FEMALE_GIVEN),
        }
    }

    /// Draws a prefecture index by population.
    pub fn prefecture(&self, rng: &mut impl Rng) -> usize {
        self.prefectures.draw(rng)
    }

    /// Draws a municipality of prefecture `pref` by population.
    pub fn municipality(&self, pref: usize, rng: &mut impl Rng) -> usize {
        self.municipalities.get(pref).map_or(0, |m| m.draw(rng))
    }

    /// Draws a surname index by frequency.
    pub fn surname(&self, rng: &mut impl Rng) -> usize {
        self.surnames.draw(rng)
    }
}

impl Default for Tables {
    fn default() -> Self {
        Self::new()
    }
}

/// A place of residence from a date on.
#[derive(Debug, Clone)]
pub struct Home {
    /// Index into [`PREFECTURES`].
    pub pref: usize,
    /// Index into the prefecture's municipalities.
    pub muni: usize,
    /// Index into [`TOWNS`].
    pub town: usize,
    /// 丁目.
    pub chome: u8,
    /// 番地.
    pub banchi: u16,
    /// 号.
    pub go: u8,
    /// Lives here from this day (Julian day).
    pub from: i32,
}

impl Home {
    fn draw(tables: &Tables, rng: &mut impl Rng, from: i32) -> Self {
        let pref = tables.prefecture(rng);
        Self {
            pref,
            muni: tables.municipality(pref, rng),
            town: rng.gen_range(0..TOWNS.len()),
            chome: rng.gen_range(1..=5),
            banchi: rng.gen_range(1..=30),
            go: rng.gen_range(1..=20),
            from,
        }
    }

    /// Prefecture name.
    pub fn prefecture(&self) -> &'static str {
        PREFECTURES.get(self.pref).map_or("", |p| p.name)
    }

    /// Municipality name.
    pub fn municipality(&self) -> &'static str {
        PREFECTURES
            .get(self.pref)
            .and_then(|p| p.municipalities.get(self.muni))
            .map_or("", |m| m.0)
    }

    /// The line below the municipality: town, 丁目, 番地, 号.
    pub fn line(&self) -> String {
        let town = TOWNS.get(self.town).copied().unwrap_or("");
        format!("{town}{}丁目{}番{}号", self.chome, self.banchi, self.go)
    }
}

/// The kind of public health insurance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsuranceKind {
    /// 全国健康保険協会 (協会けんぽ), 法別番号 01.
    Kyokai,
    /// 健康保険組合, 法別番号 06.
    Kumiai,
    /// 共済組合, 法別番号 31.
    Kyosai,
    /// 国民健康保険 (市町村), 6-digit insurer number.
    Kokuho,
    /// 後期高齢者医療, 法別番号 39.
    Koki,
}

/// One insurance membership, from a date on.
#[derive(Debug, Clone)]
pub struct Insurance {
    /// The kind.
    pub kind: InsuranceKind,
    /// 保険者番号 (8 digits, or 6 for 国保), with check digit.
    pub insurer: String,
    /// 被保険者証 記号 (empty for 後期高齢者医療).
    pub symbol: String,
    /// 被保険者証 番号.
    pub number: String,
    /// 枝番 (2 digits); none for 後期高齢者医療, which has no 枝番.
    pub branch: Option<u8>,
    /// Member from this day (Julian day).
    pub from: i32,
}

impl Insurance {
    fn draw(rng: &mut impl Rng, kind: InsuranceKind, pref: u8, dependant: bool, from: i32) -> Self {
        let insurer = match kind {
            // 協会けんぽ has one 保険者 per prefecture: 01 + pref + 001.
            InsuranceKind::Kyokai => with_check_digit(&format!("01{pref:02}001")),
            InsuranceKind::Kumiai => {
                with_check_digit(&format!("06{pref:02}{:03}", rng.gen_range(1..1000)))
            }
            InsuranceKind::Kyosai => {
                with_check_digit(&format!("31{pref:02}{:03}", rng.gen_range(1..1000)))
            }
            InsuranceKind::Kokuho => {
                with_check_digit(&format!("{pref:02}{:03}", rng.gen_range(1..1000)))
            }
            // One 広域連合 per prefecture.
            InsuranceKind::Koki => with_check_digit(&format!("39{pref:02}101")),
        };
        let (symbol, number, branch) = match kind {
            InsuranceKind::Koki => (
                String::new(),
                format!("{:08}", rng.gen_range(0..100_000_000)),
                None,
            ),
            InsuranceKind::Kokuho => (
                format!("{:02}", rng.gen_range(1..100)),
                format!("{:06}", rng.gen_range(0..1_000_000)),
                Some(if dependant { rng.gen_range(1..5) } else { 0 }),
            ),
            _ => (
                format!("{}", rng.gen_range(1..100_000_000)),
                format!("{}", rng.gen_range(1..10_000)),
                Some(if dependant { rng.gen_range(1..5) } else { 0 }),
            ),
        };
        Self {
            kind,
            insurer,
            symbol,
            number,
            branch,
            from,
        }
    }
}

/// A diagnosis the person has, with its onset.
#[derive(Debug, Clone, Copy)]
pub struct Diagnosis {
    /// Index into [`DISEASES`].
    pub disease: usize,
    /// Onset (Julian day).
    pub onset: i32,
}

/// A true person.
#[derive(Debug, Clone)]
pub struct Person {
    /// The true person number, 1..=N; only `truth.csv` carries it.
    pub number: u64,
    /// Sex.
    pub sex: Sex,
    /// Birth date (Julian day).
    pub birth: i32,
    /// Index into [`SURNAMES`] (the birth surname).
    pub surname: usize,
    /// A new surname (index into [`SURNAMES`]) from a day on, after marriage.
    pub married: Option<(usize, i32)>,
    /// Index into the given-name table of the person's sex.
    pub given: usize,
    /// Homes, earliest first; a second one means a move.
    pub homes: Vec<Home>,
    /// Insurances, earliest first; a second one means a job change.
    pub insurances: Vec<Insurance>,
    /// Death (Julian day), inside the window.
    pub death: Option<i32>,
    /// Diagnoses.
    pub diagnoses: Vec<Diagnosis>,
    /// Index into [`ALLERGENS`].
    pub allergy: Option<usize>,
}

impl Person {
    /// Generates person `number` from its own RNG stream.
    pub fn generate<R: Rng>(
        number: u64,
        tables: &Tables,
        rates: &VariantRates,
        rng: &mut R,
    ) -> Self {
        let band = tables.ages.draw(rng);
        let (_, female_permille) = AGE_BANDS.get(band).copied().unwrap_or((0, 500));
        let sex = if rng.gen_range(0..1000) < female_permille {
            Sex::Female
        } else {
            Sex::Male
        };
        let age_days = (band as i32 * 5 * 365) + rng.gen_range(0..5 * 365);
        let birth = WINDOW_START - age_days - 1;
        let age = u32::try_from(age_days / 365).unwrap_or(0);
        let surname = tables.surname(rng);
        let era = usize::from(era_of_birth_year(date(birth).year()));
        let given = match sex {
            Sex::Male => tables.male.get(era).map_or(0, |w| w.draw(rng)),
            Sex::Female => tables.female.get(era).map_or(0, |w| w.draw(rng)),
        };
        // Marriage: most couples take the husband's surname (人口動態統計:
        // about 95%), so a woman's surname may change inside the window.
        let married = (sex == Sex::Female
            && (20..50).contains(&(band * 5))
            && chance(rng, rates.surname_change))
        .then(|| {
            (
                tables.surname(rng),
                rng.gen_range(WINDOW_START + 60..WINDOW_END - 60),
            )
        })
        .filter(|&(s, _)| s != surname);

        let mut homes = vec![Home::draw(tables, rng, birth)];
        if chance(rng, rates.moved) {
            let from = rng.gen_range(WINDOW_START + 60..WINDOW_END - 60);
            homes.push(Home::draw(tables, rng, from));
        }

        let pref = PREFECTURES.get(homes[0].pref).map_or(13, |p| p.code);
        let employed_kind = |rng: &mut R| match rng.gen_range(0..10) {
            0..=5 => InsuranceKind::Kyokai,
            6..=8 => InsuranceKind::Kumiai,
            _ => InsuranceKind::Kyosai,
        };
        let (kind, dependant) = if age >= 75 {
            (InsuranceKind::Koki, false)
        } else if age >= 65 || chance(rng, 0.22) {
            (InsuranceKind::Kokuho, age < 20)
        } else {
            (
                employed_kind(rng),
                age < 20 || (sex == Sex::Female && chance(rng, 0.3)),
            )
        };
        let mut insurances = vec![Insurance::draw(rng, kind, pref, dependant, birth)];
        let working = (20..65).contains(&age) && kind != InsuranceKind::Kokuho && !dependant;
        if working && chance(rng, rates.job_change) {
            let from = rng.gen_range(WINDOW_START + 60..WINDOW_END - 60);
            let next = employed_kind(rng);
            insurances.push(Insurance::draw(rng, next, pref, false, from));
        }

        let mut diagnoses = Vec::new();
        for (i, d) in DISEASES.iter().enumerate() {
            if chance(rng, (d.prevalence)(age, sex)) {
                // Chronic diseases mostly began before the window; cancers
                // are diagnosed inside it.
                let earliest = match d.setting {
                    Setting::Hospital => WINDOW_START,
                    Setting::Any => (WINDOW_START - 3650).max(birth + 365),
                };
                let onset = rng.gen_range(earliest.min(WINDOW_END - 90)..WINDOW_END - 60);
                diagnoses.push(Diagnosis { disease: i, onset });
            }
        }
        let has_cancer = diagnoses.iter().any(|d| {
            DISEASES
                .get(d.disease)
                .is_some_and(|d| d.setting == Setting::Hospital)
        });

        // Gompertz annual mortality q = 2e-5·e^(0.095·age), about the
        // 令和2年 生命表 at 50 (0.2%), 80 (4%), 90 (10%); ×3 with cancer.
        let q =
            (2e-5 * (0.095 * f64::from(age)).exp() * if has_cancer { 3.0 } else { 1.0 }).min(0.5);
        let death = chance(rng, 1.0 - (1.0 - q).powi(5)).then(|| {
            let first = diagnoses
                .iter()
                .map(|d| d.onset)
                .max()
                .unwrap_or(WINDOW_START)
                .max(WINDOW_START)
                + 30;
            rng.gen_range(first.min(WINDOW_END - 1)..WINDOW_END)
        });

        let allergy = chance(rng, 0.08).then(|| rng.gen_range(0..ALLERGENS.len()));
        Self {
            number,
            sex,
            birth,
            surname,
            married,
            given,
            homes,
            insurances,
            death,
            diagnoses,
            allergy,
        }
    }

    /// Age in whole years on `day`.
    pub fn age_on(&self, day: i32) -> u32 {
        u32::try_from((day - self.birth).max(0) / 365).unwrap_or(0)
    }

    /// The home on `day`.
    pub fn home_on(&self, day: i32) -> &Home {
        self.homes
            .iter()
            .rev()
            .find(|h| h.from <= day)
            .unwrap_or(&self.homes[0])
    }

    /// The insurance on `day`.
    pub fn insurance_on(&self, day: i32) -> &Insurance {
        self.insurances
            .iter()
            .rev()
            .find(|i| i.from <= day)
            .unwrap_or(&self.insurances[0])
    }

    /// Whether the person has the disease at `index` in [`DISEASES`].
    pub fn has(&self, index: usize) -> bool {
        self.diagnoses.iter().any(|d| d.disease == index)
    }

    /// Surname (kanji, kana) and given name (kanji, kana) on `day`.
    pub fn names_on(&self, day: i32) -> (&'static str, &'static str, &'static str, &'static str) {
        let surname = match self.married {
            Some((s, from)) if from <= day => s,
            _ => self.surname,
        };
        let (sk, sy, _) = SURNAMES.get(surname).copied().unwrap_or(("", "", 0));
        let table = match self.sex {
            Sex::Male => MALE_GIVEN,
            Sex::Female => FEMALE_GIVEN,
        };
        let (gk, gy, _) = table.get(self.given).copied().unwrap_or(("", "", 0));
        (sk, sy, gk, gy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn population(n: u64) -> Vec<Person> {
        let tables = Tables::new();
        let rates = VariantRates::default();
        (1..=n)
            .map(|i| {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(i);
                Person::generate(i, &tables, &rates, &mut rng)
            })
            .collect()
    }

    fn era_of_name(p: &Person) -> u8 {
        let table = if p.sex == Sex::Male {
            MALE_GIVEN
        } else {
            FEMALE_GIVEN
        };
        table.get(p.given).map_or(9, |g| g.2)
    }

    #[test]
    fn given_names_follow_the_birth_cohort() {
        let people = population(4000);
        let share = |born: &dyn Fn(i32) -> bool, era: u8| {
            let group: Vec<_> = people
                .iter()
                .filter(|p| born(date(p.birth).year()))
                .collect();
            group.iter().filter(|p| era_of_name(p) == era).count() as f64 / group.len() as f64
        };
        assert!(share(&|y| y < 1960, 0) > 0.6);
        assert!(share(&|y| y >= 2005, 2) > 0.6);
    }

    #[test]
    fn some_women_change_surname_by_marriage_and_men_do_not() {
        let people = population(6000);
        assert!(
            people
                .iter()
                .all(|p| p.sex == Sex::Female || p.married.is_none())
        );
        let married: Vec<_> = people.iter().filter(|p| p.married.is_some()).collect();
        assert!(!married.is_empty());
        for p in married {
            let (_, from) = p.married.expect("filtered");
            assert_ne!(p.names_on(from - 1).0, p.names_on(from).0);
            assert_eq!(
                p.names_on(from - 1).2,
                p.names_on(from).2,
                "given name stays"
            );
        }
    }

    #[test]
    fn the_age_pyramid_is_old() {
        let people = population(4000);
        let old = people
            .iter()
            .filter(|p| p.age_on(WINDOW_START) >= 65)
            .count() as f64;
        let share = old / people.len() as f64;
        // 28.6% of Japan was 65 or over in 2020.
        assert!((0.25..0.33).contains(&share), "{share}");
    }
}
