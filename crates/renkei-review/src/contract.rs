//! The permit contract as review serves it: the functions that act on a
//! permit ask what it grants and where it stands through
//! [`renkei_core::PermitAuthority`], never through review's own types, so
//! they can be answered from another operator.

use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use renkei_core::{
    DataUse, Delivery, Grant, PermitAuthority, PermitId, PermitNotice, ServiceResult, Standing,
};

use crate::form::DeliveryType;
use crate::{Permit, PermitStatus, Review};

impl Permit {
    /// What this permit grants the functions that act on it.
    pub fn grant(&self) -> Grant {
        let delivery = match self.delivery {
            DeliveryType::AnonymizedDataset => {
                Delivery::Anonymized(self.privacy.clone().unwrap_or_default())
            }
            // Statistics-only permits get pseudonymized tables too: their
            // outputs leave only through disclosure control.
            DeliveryType::PseudonymizedInEnvironment | DeliveryType::StatisticsOnly => {
                Delivery::Pseudonymized
            }
        };
        Grant {
            permit: self.id,
            delivery,
            tables: self.tables.clone(),
            cohort_icd10: self.rows.cohort_icd10.clone(),
            period_from: self.rows.period_from.clone(),
            period_to: self.rows.period_to.clone(),
            date_shift_days: self.date_shift_days,
            data_use: DataUse::of(self.opt_out_purposes.iter().cloned()),
            users: self.users.clone(),
            workspace: self.resources.clone(),
        }
    }
}

impl PermitStatus {
    /// The status as the functions acting on a permit need it.
    pub fn standing(self) -> Standing {
        match self {
            PermitStatus::Active => Standing::InForce,
            PermitStatus::Suspended => Standing::Suspended,
            PermitStatus::Revoked | PermitStatus::Expired => Standing::Ended,
        }
    }
}

impl PermitAuthority for Review {
    fn grant(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<Grant>> {
        Box::pin(async move { Ok(self.permit_in_force(&permit).await?.grant()) })
    }

    fn standing(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<Standing>> {
        Box::pin(async move { Ok(self.permit(&permit).await?.1.standing()) })
    }

    fn terms(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<(Grant, Standing)>> {
        Box::pin(async move {
            let (p, status) = self.permit(&permit).await?;
            Ok((p.grant(), status.standing()))
        })
    }

    fn notice(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<PermitNotice>> {
        Box::pin(async move {
            let (p, _) = self.permit(&permit).await?;
            Ok(PermitNotice {
                permit: p.id,
                title: p.title,
                holder: p.holder.name,
                purpose: p.purpose,
            })
        })
    }

    fn may_check_outputs<'a>(
        &'a self,
        reviewer: &'a str,
        permit: PermitId,
    ) -> BoxFuture<'a, ServiceResult<()>> {
        Box::pin(async move {
            let (p, _) = self.permit(&permit).await?;
            Ok(Review::may_check_outputs(self, reviewer, &p).await?)
        })
    }

    fn changes(&self) -> BoxStream<'static, PermitId> {
        use tokio::sync::broadcast::error::RecvError;
        futures::stream::unfold(self.changes.subscribe(), |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(permit) => return Some((permit, rx)),
                    // Hints missed: the follower's sweep finds them.
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        })
        .boxed()
    }
}
