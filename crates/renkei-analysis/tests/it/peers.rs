//! Review and processing as the environment sees them: a fake of each
//! contract, and the gate they make for opening a workspace.

use renkei_analysis::Peers;
use renkei_core::{
    DataUse, Delivery, ErrorKind, ExtractCatalog, ExtractFile, ExtractListing, Function, Grant,
    PermitAuthority, PermitId, ServiceError, ServiceResult, Standing, WorkspaceResources,
};

use super::*;

/// One permit at most, in force or not, with at most one extract.
pub(crate) struct Fake {
    grant: Option<Grant>,
    in_force: bool,
    listing: Option<ExtractListing>,
}

impl PermitAuthority for Fake {
    fn grant(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<Grant>> {
        Box::pin(async move {
            match &self.grant {
                Some(g) if g.permit == permit && self.in_force => Ok(g.clone()),
                Some(g) if g.permit == permit => Err(ServiceError::new(
                    Function::Review,
                    ErrorKind::NotPermitted,
                    format!("permit {permit} is not in force (suspended)"),
                )),
                _ => Err(ServiceError::new(
                    Function::Review,
                    ErrorKind::NotFound,
                    format!("permit {permit}"),
                )),
            }
        })
    }

    fn standing(&self, _: PermitId) -> BoxFuture<'_, ServiceResult<Standing>> {
        let standing = if self.in_force {
            Standing::InForce
        } else {
            Standing::Suspended
        };
        Box::pin(async move { Ok(standing) })
    }

    fn terms(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<(Grant, Standing)>> {
        Box::pin(async move {
            let grant = self
                .grant
                .clone()
                .filter(|g| g.permit == permit)
                .ok_or_else(|| Fake::not_found(permit))?;
            let standing = if self.in_force {
                Standing::InForce
            } else {
                Standing::Suspended
            };
            Ok((grant, standing))
        })
    }

    fn notice(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<renkei_core::PermitNotice>> {
        Box::pin(async move { Err(Fake::not_found(permit)) })
    }

    /// Any reviewer: conflicts are review's rule, tested with review.
    fn may_check_outputs<'a>(
        &'a self,
        _: &'a str,
        _: PermitId,
    ) -> BoxFuture<'a, ServiceResult<()>> {
        Box::pin(async { Ok(()) })
    }
}

impl Fake {
    fn not_found(permit: PermitId) -> ServiceError {
        ServiceError::new(
            Function::Review,
            ErrorKind::NotFound,
            format!("permit {permit}"),
        )
    }
}

impl ExtractCatalog for Fake {
    fn latest(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<Option<ExtractListing>>> {
        let listing = self.listing.clone().filter(|l| l.permit == permit);
        Box::pin(async move { Ok(listing) })
    }

    fn including(
        &self,
        _: renkei_core::PersonKey,
    ) -> BoxFuture<'_, ServiceResult<Vec<renkei_core::ExtractUse>>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// Review that grants no workspace but holds every permit in force and
/// lets any reviewer check outputs, over an empty store: for tests of the
/// environment's own rules, which open workspaces directly.
pub(crate) fn none() -> Peers {
    of(
        Fake {
            grant: None,
            in_force: true,
            listing: None,
        },
        Arc::new(object_store::memory::InMemory::new()),
    )
}

fn of(fake: Fake, store: Arc<dyn ObjectStore>) -> Peers {
    let fake = Arc::new(fake);
    Peers {
        permits: fake.clone(),
        extracts: fake,
        extract_store: store,
    }
}

fn grant(permit: PermitId, users: &[&str]) -> Grant {
    Grant {
        permit,
        delivery: Delivery::Pseudonymized,
        tables: Vec::new(),
        cohort_icd10: Vec::new(),
        period_from: "2020-01-01".to_owned(),
        period_to: "2024-12-31".to_owned(),
        date_shift_days: 0,
        data_use: DataUse::default(),
        users: users.iter().map(|u| (*u).to_owned()).collect(),
        workspace: WorkspaceResources {
            cpus: 1,
            memory_gib: 1,
            storage_gib: 1,
        },
    }
}

test_on_both_backends! {
async fn only_a_named_user_of_a_permit_in_force_with_an_extract_gets_a_workspace(ts) {
    let dir = tempfile::tempdir().expect("dir");
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).expect("store"));
    let t = table(&store, "p", "condition", 30).await;
    let permit = pid("p");
    let listing = ExtractListing {
        extract: "ext-1".to_owned(),
        permit,
        tables: vec![ExtractFile { table: t.name.clone(), file: t.files[0].to_string() }],
    };
    let open = |fake: Fake| {
        let store = store.clone();
        async move {
            Environment::open(&ts.stores, Arc::new(SystemClock), Arc::new(Audit::default()), of(fake, store))
                .await
                .expect("environment")
        }
    };
    let engine = Default::default();
    let minute = Duration::from_secs(60);

    // In force, named, with an extract: the workspace reads its table, and
    // a query stops within the caller's deadline, not the workspace's own.
    let env = open(Fake { grant: Some(grant(permit, &["alice"])), in_force: true, listing: Some(listing.clone()) }).await;
    let (granted, ws) = env.workspace(permit, "alice", &engine, Duration::from_secs(5)).await.expect("alice's workspace");
    assert_eq!(granted.permit, permit);
    assert_eq!(ws.limits().timeout, Duration::from_secs(5));
    let rows = ws.query("SELECT count(*) AS n FROM condition").await.expect("query");
    assert_eq!(rows.batches[0].column(0).as_primitive::<Int64Type>().value(0), 30);

    // Somebody the permit does not name.
    let err = env.workspace(permit, "mallory", &engine, minute).await.expect_err("not named");
    assert!(matches!(err, Error::NotNamed(_)), "{err}");
    // Another permit, which review does not know.
    let err = env.workspace(pid("q"), "alice", &engine, minute).await.expect_err("unknown");
    assert!(matches!(err, Error::NotFound(_)), "{err}");

    // Suspended: refused, whoever asks.
    let env = open(Fake { grant: Some(grant(permit, &["alice"])), in_force: false, listing: Some(listing) }).await;
    let err = env.workspace(permit, "alice", &engine, minute).await.expect_err("suspended");
    assert!(matches!(&err, Error::Conflict(m) if m.contains("suspended")), "{err}");

    // In force but nothing built yet.
    let env = open(Fake { grant: Some(grant(permit, &["alice"])), in_force: true, listing: None }).await;
    let err = env.workspace(permit, "alice", &engine, minute).await.expect_err("no extract");
    assert!(matches!(&err, Error::Conflict(m) if m.contains("no extract")), "{err}");
}
}
