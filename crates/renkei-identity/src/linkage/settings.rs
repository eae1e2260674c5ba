//! The configuration of a linkage run, as read from a TOML file
//! (`renkei link --config link.toml`). Every key is optional: what is not
//! set is chosen automatically ([`super::auto`]). Unknown keys are refused,
//! so a typo names itself.
//!
//! ```toml
//! # Pairs with a match probability at or above this are links.
//! link_threshold = 0.9
//! # Pairs at or above this but below link_threshold go to clerical review.
//! review_threshold = 0.5
//! # Blocking rules (a union): records are compared when every key of some
//! # rule agrees. A key is a column, or its first n characters: `col[:n]`.
//! blocking = ["surname[:3] & date_of_birth", "postcode", "soc_sec_id"]
//! # Compare only the fields listed under [fields] (default: the others
//! # are chosen automatically).
//! only_listed_fields = false
//!
//! [fields.given_name]
//! # name | text | date | code | postcode | category | address | ignore
//! kind = "name"
//! # Jaro–Winkler thresholds of the two similarity levels (name, text).
//! jaro_winkler = [0.94, 0.85]
//!
//! [fields.notes]
//! kind = "ignore"
//!
//! [training]
//! random_pairs = 1000000   # pairs drawn to estimate u
//! seed = 42
//! max_iterations = 100     # EM iterations per blocking rule
//! tolerance = 1e-6
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use super::comparison::Kind;
use super::fellegi_sunter::Training;
use super::{Error, Result};

/// A linkage configuration; see the module doc for the file format.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Probability at or above which a pair is a link (default 0.9).
    pub link_threshold: Option<f64>,
    /// Probability at or above which a pair below the link threshold goes
    /// to clerical review (default 0.5).
    pub review_threshold: Option<f64>,
    /// Blocking rules; replaces the automatic choice.
    pub blocking: Option<Vec<String>>,
    /// Compare only the fields under `fields`.
    #[serde(default)]
    pub only_listed_fields: bool,
    /// Per column: how to compare it, or to ignore it.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldSetting>,
    /// Training parameters.
    #[serde(default)]
    pub training: TrainingSettings,
}

/// How to compare one column.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSetting {
    /// The kind, or `ignore`.
    pub kind: FieldKind,
    /// Jaro–Winkler thresholds, higher first (names and text).
    pub jaro_winkler: Option<[f64; 2]>,
}

/// A [`Kind`], or `ignore`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// Do not compare the column.
    Ignore,
    /// [`Kind::Name`].
    Name,
    /// [`Kind::Text`].
    Text,
    /// [`Kind::Date`].
    Date,
    /// [`Kind::Code`].
    Code,
    /// [`Kind::Postcode`].
    Postcode,
    /// [`Kind::Category`].
    Category,
    /// [`Kind::Address`].
    Address,
}

impl FieldKind {
    /// The kind to compare with; `None` for `ignore`.
    pub fn kind(self) -> Option<Kind> {
        Some(match self {
            FieldKind::Ignore => return None,
            FieldKind::Name => Kind::Name,
            FieldKind::Text => Kind::Text,
            FieldKind::Date => Kind::Date,
            FieldKind::Code => Kind::Code,
            FieldKind::Postcode => Kind::Postcode,
            FieldKind::Category => Kind::Category,
            FieldKind::Address => Kind::Address,
        })
    }
}

/// Training parameters; unset ones keep their defaults.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingSettings {
    /// Random pairs drawn to estimate u (default 1,000,000).
    pub random_pairs: Option<u64>,
    /// Seed of the draw (default 42).
    pub seed: Option<u64>,
    /// Most EM iterations per session (default 100).
    pub max_iterations: Option<u32>,
    /// EM convergence tolerance (default 1e-6).
    pub tolerance: Option<f64>,
}

/// Default link threshold (probability).
pub const DEFAULT_LINK_THRESHOLD: f64 = 0.9;
/// Default lower bound of the clerical-review band (probability).
pub const DEFAULT_REVIEW_THRESHOLD: f64 = 0.5;

impl Settings {
    /// The thresholds, checked: 0 < review ≤ link < 1.
    pub fn thresholds(&self) -> Result<(f64, f64)> {
        let link = self.link_threshold.unwrap_or(DEFAULT_LINK_THRESHOLD);
        let review = self
            .review_threshold
            .unwrap_or(DEFAULT_REVIEW_THRESHOLD.min(link));
        let invalid = |key: &str, reason: &str| Error::InvalidSetting {
            key: key.to_owned(),
            reason: reason.to_owned(),
        };
        if !(link > 0.0 && link < 1.0) {
            return Err(invalid("link_threshold", "must be a probability in (0, 1)"));
        }
        if !(review > 0.0 && review <= link) {
            return Err(invalid(
                "review_threshold",
                "must be a probability in (0, link_threshold]",
            ));
        }
        Ok((link, review))
    }

    /// The training parameters, defaults filled in and checked.
    pub fn training(&self) -> Result<Training> {
        let d = Training::default();
        let t = &self.training;
        let training = Training {
            random_pairs: t.random_pairs.unwrap_or(d.random_pairs),
            seed: t.seed.unwrap_or(d.seed),
            max_iterations: t.max_iterations.unwrap_or(d.max_iterations),
            tolerance: t.tolerance.unwrap_or(d.tolerance),
        };
        if training.random_pairs == 0 {
            return Err(Error::InvalidSetting {
                key: "training.random_pairs".into(),
                reason: "must be at least 1".into(),
            });
        }
        if training.tolerance.is_nan() || training.tolerance <= 0.0 {
            return Err(Error::InvalidSetting {
                key: "training.tolerance".into(),
                reason: "must be positive".into(),
            });
        }
        Ok(training)
    }

    /// Checks the Jaro–Winkler thresholds of the fields.
    pub(crate) fn check_fields(&self) -> Result<()> {
        for (column, f) in &self.fields {
            if let Some([t1, t2]) = f.jaro_winkler
                && !(0.0 <= t2 && t2 <= t1 && t1 <= 1.0)
            {
                return Err(Error::InvalidSetting {
                    key: format!("fields.{column}.jaro_winkler"),
                    reason: "two thresholds in [0, 1], the higher first".into(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_checked() {
        let s = Settings {
            link_threshold: Some(0.8),
            review_threshold: Some(0.9),
            ..Settings::default()
        };
        assert!(
            matches!(s.thresholds(), Err(Error::InvalidSetting { key, .. }) if key == "review_threshold")
        );
        assert_eq!(
            Settings::default().thresholds().expect("defaults"),
            (0.9, 0.5)
        );
        let low = Settings {
            link_threshold: Some(0.3),
            ..Settings::default()
        };
        assert_eq!(
            low.thresholds().expect("review follows link down"),
            (0.3, 0.3)
        );
    }
}
