//! Why a cell was suppressed, in words a reviewer and a researcher read.

use serde::Serialize;

use super::differencing::ReleaseId;
use super::table::CellKey;

/// Why a cell is not released.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// Fewer persons than the minimum count.
    BelowMinimum {
        /// Persons in the cell.
        count: u64,
        /// The minimum.
        min: u64,
    },
    /// A genomic aggregate with fewer persons than the genomic minimum.
    BelowGenomicMinimum {
        /// Persons in the cell.
        count: u64,
        /// The genomic minimum.
        min: u64,
    },
    /// An empty cell, under rules that suppress zeros.
    Zero,
    /// The sum is dominated by its largest contributions.
    Dominance {
        /// Contributions added up.
        n: usize,
        /// The rule's limit, in percent.
        k_percent: f64,
        /// Their actual share, in percent.
        share_percent: f64,
    },
    /// The cell differs from a cell released earlier under the same permit
    /// by fewer persons than the minimum.
    Differencing {
        /// The earlier release.
        against: ReleaseId,
        /// The earlier cell's key, in the earlier table's dimensions.
        earlier_key: CellKey,
        /// The absolute difference in persons.
        difference: u64,
        /// The minimum count.
        min: u64,
    },
    /// Suppressed so that another suppressed cell cannot be recovered by
    /// subtraction from the margins.
    Complementary {
        /// The suppressed cell this one protects.
        protects: CellKey,
    },
    /// No safe suppression pattern was found, so nothing of the table is
    /// released.
    Withheld,
}

/// A reason in Japanese and English, as the reviewer page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// 日本語の説明.
    pub ja: String,
    /// The explanation in English.
    pub en: String,
}

impl Reason {
    /// Whether the cell broke a rule itself, rather than being suppressed to
    /// protect another cell.
    pub fn is_primary(&self) -> bool {
        !matches!(self, Reason::Complementary { .. } | Reason::Withheld)
    }

    /// The explanation; `dimensions` name the parts of keys.
    pub fn explain(&self, dimensions: &[String]) -> Explanation {
        match self {
            Reason::BelowMinimum { count, min } => Explanation {
                ja: format!("人数が{count}人で、最小集計単位（{min}人）未満のため秘匿しました。"),
                en: format!("{count} persons, fewer than the minimum of {min}: suppressed."),
            },
            Reason::BelowGenomicMinimum { count, min } => Explanation {
                ja: format!(
                    "ゲノム集計の人数が{count}人で、ゲノム集計の最小集計単位（{min}人）未満のため秘匿しました。"
                ),
                en: format!(
                    "genomic aggregate of {count} persons, fewer than the genomic minimum of {min}: suppressed."
                ),
            },
            Reason::Zero => Explanation {
                ja: "該当者0人のセルは公表しない規則のため秘匿しました。".to_owned(),
                en: "empty cell, and the rules suppress zeros: suppressed.".to_owned(),
            },
            Reason::Dominance {
                n,
                k_percent,
                share_percent,
            } => Explanation {
                ja: format!(
                    "上位{n}人の寄与が合計の{share_percent:.1}%を占め、優越性ルールの上限{k_percent}%を超えるため秘匿しました。"
                ),
                en: format!(
                    "the {n} largest contributions make up {share_percent:.1}% of the sum, more than the dominance limit of {k_percent}%: suppressed."
                ),
            },
            Reason::Differencing {
                against,
                earlier_key,
                difference,
                min,
            } => {
                let at = earlier_key.to_string();
                Explanation {
                    ja: format!(
                        "公表済みの結果「{against}」のセル（{at}）との人数の差が{difference}人で最小集計単位（{min}人）未満となり、差し引きで少人数の集団が分かるため秘匿しました。"
                    ),
                    en: format!(
                        "differs by {difference} persons from cell ({at}) of earlier release `{against}`, fewer than the minimum of {min}, so subtracting would reveal a small group: suppressed."
                    ),
                }
            }
            Reason::Complementary { protects } => {
                let at = protects.describe(dimensions);
                Explanation {
                    ja: format!(
                        "秘匿したセル（{at}）が合計からの引き算で復元されないよう、補完秘匿しました。"
                    ),
                    en: format!(
                        "suppressed so that the suppressed cell ({at}) cannot be recovered by subtraction from the totals (complementary suppression)."
                    ),
                }
            }
            Reason::Withheld => Explanation {
                ja: "安全な秘匿パターンが見つからないため、この表は公表しません。".to_owned(),
                en: "no safe suppression pattern was found, so the table is withheld.".to_owned(),
            },
        }
    }
}
