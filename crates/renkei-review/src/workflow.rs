//! The review workflow as types.
//!
//! Each state is its own type, and a transition is a method that consumes
//! one state and returns the next, so code cannot express an illegal step:
//! there is no `Rejected::issue_permit`. [`Stage`] holds whichever state an
//! application is in (as stored), and [`Stage::apply`] is the one place a
//! requested [`Step`] meets the state: it calls the typed method, or
//! refuses naming what is allowed.
//!
//! ```text
//! draft ─submit→ submitted ─start_screening→ screening ─send_to_review→ in_review
//!   ↑                                          │return                     │approve / reject
//!   └──────────────────────────────────────────┘                           ↓
//!                            approved ─issue_permit→ permit_active ⇄ suspended
//!                            rejected (final)        │ expire / revoke (both from suspended too)
//!                                                    ↓
//!                                              expired · revoked (final)
//! ```

use serde::{Deserialize, Serialize};

use crate::{Error, PermitId, Result};

/// 下書き: the applicant is writing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {}
/// 申請済み: waiting for the secretariat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submitted {}
/// 事前確認: the secretariat checks the form is complete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Screening {}
/// 審査中: with a committee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InReview {
    /// The committee.
    pub committee: String,
}
/// 承認 (条件付き承認 when it has conditions).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approved {
    /// Conditions the permit carries; empty for a plain approval.
    pub conditions: Vec<String>,
}
/// 不承認: final.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {}
/// 許可中: the permit is in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermitActive {
    /// The permit.
    pub permit: PermitId,
}
/// 一時停止: the permit is suspended with immediate effect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspended {
    /// The permit.
    pub permit: PermitId,
}
/// 期間満了: final.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expired {
    /// The permit.
    pub permit: PermitId,
}
/// 取消し: final.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked {
    /// The permit.
    pub permit: PermitId,
}

impl Draft {
    /// The applicant submits the form.
    pub fn submit(self) -> Submitted {
        Submitted {}
    }
}

impl Submitted {
    /// The secretariat takes it up.
    pub fn start_screening(self) -> Screening {
        Screening {}
    }
}

impl Screening {
    /// Incomplete: back to the applicant.
    pub fn return_to_applicant(self) -> Draft {
        Draft {}
    }
    /// Complete: to a committee.
    pub fn send_to_review(self, committee: String) -> InReview {
        InReview { committee }
    }
}

impl InReview {
    /// The committee approves, with conditions or none.
    pub fn approve(self, conditions: Vec<String>) -> Approved {
        Approved { conditions }
    }
    /// The committee rejects.
    pub fn reject(self) -> Rejected {
        Rejected {}
    }
}

impl Approved {
    /// The permit is issued.
    pub fn issue_permit(self, permit: PermitId) -> PermitActive {
        PermitActive { permit }
    }
}

impl PermitActive {
    /// Suspended with immediate effect.
    pub fn suspend(self) -> Suspended {
        Suspended {
            permit: self.permit,
        }
    }
    /// Revoked with immediate effect.
    pub fn revoke(self) -> Revoked {
        Revoked {
            permit: self.permit,
        }
    }
    /// Its term ended (or an amendment's permit replaced it).
    pub fn expire(self) -> Expired {
        Expired {
            permit: self.permit,
        }
    }
}

impl Suspended {
    /// In force again.
    pub fn reinstate(self) -> PermitActive {
        PermitActive {
            permit: self.permit,
        }
    }
    /// Revoked.
    pub fn revoke(self) -> Revoked {
        Revoked {
            permit: self.permit,
        }
    }
    /// Its term ended while suspended.
    pub fn expire(self) -> Expired {
        Expired {
            permit: self.permit,
        }
    }
}

/// The state an application is in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Stage {
    /// 下書き.
    Draft(Draft),
    /// 申請済み.
    Submitted(Submitted),
    /// 事前確認.
    Screening(Screening),
    /// 審査中.
    InReview(InReview),
    /// 承認 / 条件付き承認.
    Approved(Approved),
    /// 不承認.
    Rejected(Rejected),
    /// 許可中.
    PermitActive(PermitActive),
    /// 一時停止.
    Suspended(Suspended),
    /// 期間満了.
    Expired(Expired),
    /// 取消し.
    Revoked(Revoked),
}

/// A step someone asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// The applicant submits.
    Submit,
    /// The secretariat takes it up.
    StartScreening,
    /// Back to the applicant.
    ReturnToApplicant,
    /// To a committee.
    SendToReview {
        /// The committee.
        committee: String,
    },
    /// Approve, with conditions or none.
    Approve {
        /// Conditions.
        conditions: Vec<String>,
    },
    /// Reject.
    Reject,
    /// Issue the permit.
    IssuePermit {
        /// Its id.
        permit: PermitId,
    },
    /// Suspend the permit.
    Suspend,
    /// Reinstate a suspended permit.
    Reinstate,
    /// Revoke the permit.
    Revoke,
    /// End the permit's term.
    Expire,
}

impl Step {
    /// Every kind of step, with placeholder data (for tables and tests).
    pub fn all() -> Vec<Step> {
        vec![
            Step::Submit,
            Step::StartScreening,
            Step::ReturnToApplicant,
            Step::SendToReview {
                committee: "c".to_owned(),
            },
            Step::Approve {
                conditions: Vec::new(),
            },
            Step::Reject,
            Step::IssuePermit {
                permit: PermitId::generate(),
            },
            Step::Suspend,
            Step::Reinstate,
            Step::Revoke,
            Step::Expire,
        ]
    }

    /// The step as a past participle (`submitted`), as audit entries and
    /// errors name it.
    pub fn name(&self) -> &'static str {
        match self {
            Step::Submit => "submitted",
            Step::StartScreening => "screened",
            Step::ReturnToApplicant => "returned",
            Step::SendToReview { .. } => "sent_to_review",
            Step::Approve { .. } => "approved",
            Step::Reject => "rejected",
            Step::IssuePermit { .. } => "permitted",
            Step::Suspend => "suspended",
            Step::Reinstate => "reinstated",
            Step::Revoke => "revoked",
            Step::Expire => "expired",
        }
    }
}

impl Stage {
    /// The state's name as stored (`in_review`).
    pub fn name(&self) -> &'static str {
        match self {
            Stage::Draft(_) => "draft",
            Stage::Submitted(_) => "submitted",
            Stage::Screening(_) => "screening",
            Stage::InReview(_) => "in_review",
            Stage::Approved(_) => "approved",
            Stage::Rejected(_) => "rejected",
            Stage::PermitActive(_) => "permit_active",
            Stage::Suspended(_) => "suspended",
            Stage::Expired(_) => "expired",
            Stage::Revoked(_) => "revoked",
        }
    }

    /// The Japanese label.
    pub fn label_ja(&self) -> &'static str {
        match self {
            Stage::Draft(_) => "下書き",
            Stage::Submitted(_) => "申請済み",
            Stage::Screening(_) => "事前確認",
            Stage::InReview(_) => "審査中",
            Stage::Approved(a) if a.conditions.is_empty() => "承認",
            Stage::Approved(_) => "条件付き承認",
            Stage::Rejected(_) => "不承認",
            Stage::PermitActive(_) => "許可中",
            Stage::Suspended(_) => "一時停止",
            Stage::Expired(_) => "期間満了",
            Stage::Revoked(_) => "取消し",
        }
    }

    /// The permit, once one was issued.
    pub fn permit(&self) -> Option<PermitId> {
        match self {
            Stage::PermitActive(PermitActive { permit })
            | Stage::Suspended(Suspended { permit })
            | Stage::Expired(Expired { permit })
            | Stage::Revoked(Revoked { permit }) => Some(*permit),
            _ => None,
        }
    }

    /// Whether a decision was taken (approved or rejected, and after).
    pub fn decided(&self) -> bool {
        !matches!(
            self,
            Stage::Draft(_) | Stage::Submitted(_) | Stage::Screening(_) | Stage::InReview(_)
        )
    }

    /// The state after `step`, or a refusal naming the steps this state
    /// allows.
    pub fn apply(self, step: Step) -> Result<Stage> {
        let state = self.name();
        let action = step.name();
        self.next(step).map_err(|stage| Error::IllegalTransition {
            state,
            action,
            allowed: stage.allowed().join(", "),
        })
    }

    /// The state after `step`, or this state back when the step is not
    /// one it allows.
    fn next(self, step: Step) -> std::result::Result<Stage, Stage> {
        Ok(match (self, step) {
            (Stage::Draft(s), Step::Submit) => Stage::Submitted(s.submit()),
            (Stage::Submitted(s), Step::StartScreening) => Stage::Screening(s.start_screening()),
            (Stage::Screening(s), Step::ReturnToApplicant) => Stage::Draft(s.return_to_applicant()),
            (Stage::Screening(s), Step::SendToReview { committee }) => {
                Stage::InReview(s.send_to_review(committee))
            }
            (Stage::InReview(s), Step::Approve { conditions }) => {
                Stage::Approved(s.approve(conditions))
            }
            (Stage::InReview(s), Step::Reject) => Stage::Rejected(s.reject()),
            (Stage::Approved(s), Step::IssuePermit { permit }) => {
                Stage::PermitActive(s.issue_permit(permit))
            }
            (Stage::PermitActive(s), Step::Suspend) => Stage::Suspended(s.suspend()),
            (Stage::PermitActive(s), Step::Revoke) => Stage::Revoked(s.revoke()),
            (Stage::PermitActive(s), Step::Expire) => Stage::Expired(s.expire()),
            (Stage::Suspended(s), Step::Reinstate) => Stage::PermitActive(s.reinstate()),
            (Stage::Suspended(s), Step::Revoke) => Stage::Revoked(s.revoke()),
            (Stage::Suspended(s), Step::Expire) => Stage::Expired(s.expire()),
            (stage, _) => return Err(stage),
        })
    }

    /// The steps this state allows, by name.
    pub fn allowed(&self) -> Vec<&'static str> {
        Step::all()
            .into_iter()
            .filter(|step| self.clone().next(step.clone()).is_ok())
            .map(|s| s.name())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_stage() -> Vec<Stage> {
        let p = PermitId::generate();
        vec![
            Stage::Draft(Draft {}),
            Stage::Submitted(Submitted {}),
            Stage::Screening(Screening {}),
            Stage::InReview(InReview {
                committee: "c".to_owned(),
            }),
            Stage::Approved(Approved {
                conditions: Vec::new(),
            }),
            Stage::Rejected(Rejected {}),
            Stage::PermitActive(PermitActive { permit: p }),
            Stage::Suspended(Suspended { permit: p }),
            Stage::Expired(Expired { permit: p }),
            Stage::Revoked(Revoked { permit: p }),
        ]
    }

    #[test]
    fn exactly_the_documented_transitions_are_allowed_and_every_other_is_refused() {
        let expected: &[(&str, &[&str])] = &[
            ("draft", &["submitted"]),
            ("submitted", &["screened"]),
            ("screening", &["returned", "sent_to_review"]),
            ("in_review", &["approved", "rejected"]),
            ("approved", &["permitted"]),
            ("rejected", &[]),
            ("permit_active", &["suspended", "revoked", "expired"]),
            ("suspended", &["reinstated", "revoked", "expired"]),
            ("expired", &[]),
            ("revoked", &[]),
        ];
        let mut refused = 0;
        for stage in every_stage() {
            let allowed = expected
                .iter()
                .find(|(s, _)| *s == stage.name())
                .map(|(_, a)| *a)
                .expect("every stage is in the table");
            for step in Step::all() {
                let result = stage.clone().apply(step.clone());
                if allowed.contains(&step.name()) {
                    assert!(
                        result.is_ok(),
                        "{} should allow {}",
                        stage.name(),
                        step.name()
                    );
                } else {
                    let err = result.expect_err("refused");
                    assert!(
                        err.to_string().contains(stage.name()),
                        "the refusal names the state: {err}"
                    );
                    refused += 1;
                }
            }
        }
        let allowed: usize = expected.iter().map(|(_, a)| a.len()).sum();
        assert_eq!(allowed, 13);
        assert_eq!(
            refused,
            10 * 11 - allowed,
            "every pair not in the table is refused"
        );
    }

    #[test]
    fn stages_are_stored_as_tagged_json() {
        let s = Stage::InReview(InReview {
            committee: "第一委員会".to_owned(),
        });
        let text = serde_json::to_string(&s).expect("json");
        assert_eq!(text, r#"{"state":"in_review","committee":"第一委員会"}"#);
        assert_eq!(serde_json::from_str::<Stage>(&text).expect("back"), s);
    }
}
