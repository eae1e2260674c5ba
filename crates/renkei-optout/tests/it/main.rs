//! Integration tests of the opt-out registry, each on SQLite and
//! PostgreSQL: the registry as an extract sees it (versions, instants,
//! uses), concurrency, audit, and reopening.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use renkei_core::{
    Actor, AuditEvent, AuditReceipt, AuditSink, Clock, FixedClock, PersonKey, Timestamp,
};
use renkei_optout::{
    Channel, DataUse, Error, OptOutRequest, Policy, Registry, Scope, Submitter, WithdrawalRequest,
};
use renkei_store::test_on_both_backends;
use renkei_store::testing::TestStores;

/// Keeps every audit entry, or refuses every one.
#[derive(Default)]
struct Audit {
    events: Mutex<Vec<AuditEvent>>,
    refuse: bool,
}

impl AuditSink for Audit {
    fn append(&self, event: AuditEvent) -> BoxFuture<'_, Result<AuditReceipt, renkei_core::Error>> {
        Box::pin(async move {
            if self.refuse {
                return Err(renkei_core::Error::Service {
                    function: "audit",
                    message: "the test log refuses".to_owned(),
                });
            }
            let mut events = self.events.lock().expect("lock");
            events.push(event);
            Ok(AuditReceipt {
                index: events.len() as u64 - 1,
            })
        })
    }
}

const T0: i64 = 1_800_000_000_000_000;
const DAY: i64 = 86_400_000_000;

struct Fixture {
    registry: Registry,
    clock: Arc<FixedClock>,
    audit: Arc<Audit>,
}

/// The lake's figures as the registry asks them: who has a death on record.
#[derive(Default)]
struct Deaths(std::collections::HashSet<PersonKey>);

impl renkei_core::LakeStatistics for Deaths {
    fn cohort(
        &self,
        _: &renkei_core::CohortQuestion,
    ) -> BoxFuture<'_, renkei_core::ServiceResult<renkei_core::CohortStatistics>> {
        Box::pin(async {
            Err(renkei_core::ServiceError::new(
                renkei_core::Function::Processing,
                renkei_core::ErrorKind::Invalid,
                "the registry asks no cohort",
            ))
        })
    }

    fn deceased(&self, person: PersonKey) -> BoxFuture<'_, renkei_core::ServiceResult<bool>> {
        let dead = self.0.contains(&person);
        Box::pin(async move { Ok(dead) })
    }
}

async fn fixture(t: &TestStores, policy: Policy) -> Fixture {
    fixture_with_deaths(t, policy, Deaths::default()).await
}

async fn fixture_with_deaths(t: &TestStores, policy: Policy, deaths: Deaths) -> Fixture {
    let clock = Arc::new(FixedClock::new(Timestamp::from_unix_micros(T0)));
    let audit = Arc::new(Audit::default());
    let registry = Registry::open(
        &t.stores,
        clock.clone(),
        audit.clone(),
        policy,
        Arc::new(deaths),
    )
    .await
    .expect("registry opens");
    Fixture {
        registry,
        clock,
        audit,
    }
}

fn patient() -> Actor {
    Actor::System {
        component: "test".to_owned(),
    }
}

fn request(person: PersonKey, scope: &str) -> OptOutRequest {
    OptOutRequest {
        person,
        scope: Scope::parse(scope).expect("scope"),
        effective_from: None,
        submitter: Submitter::Person,
        channel: Channel::Portal,
    }
}

fn withdrawal(person: PersonKey, change: &renkei_optout::Change) -> WithdrawalRequest {
    WithdrawalRequest {
        person,
        opt_out: change.receipt.clone(),
        submitter: Submitter::Person,
        channel: Channel::Portal,
    }
}

fn now(f: &Fixture) -> Timestamp {
    f.clock.now()
}

test_on_both_backends!(
    async fn an_opt_out_between_two_extracts_changes_the_second(t) {
        let f = fixture(t, Policy::default()).await;
        let person = PersonKey::generate();
        let ordinary = DataUse::default();
        let first = f.registry.exclusion(&ordinary, now(&f)).await.expect("first");
        assert!(!first.contains(&person));
        let change = f.registry.opt_out(request(person, "all"), patient()).await.expect("opt out");
        let second = f.registry.exclusion(&ordinary, now(&f)).await.expect("second");
        assert!(second.contains(&person), "the next extract leaves the person out");
        assert_eq!(second.version(), change.version);
        assert!(second.version() > first.version());
        assert_eq!(second.person_keys(), vec![person]);
        // The first extract's version still answers as it did.
        let again = f.registry.exclusion_as_of(&ordinary, now(&f), first.version()).await.expect("as of");
        assert!(!again.contains(&person));
        let ahead = f.registry.exclusion_as_of(&ordinary, now(&f), change.version + 1).await;
        assert!(matches!(ahead, Err(Error::Invalid(_))), "{ahead:?}");
    }
);

test_on_both_backends!(
    async fn a_scope_keeps_a_person_out_only_of_uses_it_names(t) {
        let f = fixture(t, Policy::default()).await;
        let person = PersonKey::generate();
        f.registry
            .opt_out(request(person, "genomic,category:mental_health"), patient())
            .await
            .expect("opt out");
        let out = |u: &str| {
            let registry = f.registry.clone();
            let used = DataUse::parse(u).expect("use");
            let at = now(&f);
            async move { registry.exclusion(&used, at).await.expect("set").contains(&person) }
        };
        assert!(!out("").await, "an ordinary study is not named");
        assert!(!out("commercial").await);
        assert!(out("genomic").await);
        assert!(out("commercial,category:mental_health").await);
        let refused = f.registry.opt_out(request(person, "category:astrology"), patient()).await;
        let err = refused.expect_err("a category the platform does not offer");
        assert!(err.to_string().contains("astrology") && err.to_string().contains("mental_health"), "{err}");
    }
);

test_on_both_backends!(
    async fn an_opt_out_effective_in_the_future_does_not_yet_apply(t) {
        let f = fixture(t, Policy::default()).await;
        let person = PersonKey::generate();
        let mut r = request(person, "all");
        r.effective_from = Some(Timestamp::from_unix_micros(T0 + 7 * DAY));
        f.registry.opt_out(r, patient()).await.expect("opt out");
        let ordinary = DataUse::default();
        assert!(!f.registry.exclusion(&ordinary, now(&f)).await.expect("now").contains(&person));
        let status = f.registry.status(&person, now(&f)).await.expect("status");
        assert_eq!(status.len(), 1);
        assert!(!status[0].in_force, "recorded, not yet in force");
        f.clock.advance_micros(7 * DAY);
        assert!(f.registry.exclusion(&ordinary, now(&f)).await.expect("later").contains(&person));
        let mut past = request(person, "commercial");
        past.effective_from = Some(Timestamp::from_unix_micros(T0));
        let err = f.registry.opt_out(past, patient()).await.expect_err("in the past");
        assert!(err.to_string().contains("in the past"), "{err}");
    }
);

test_on_both_backends!(
    async fn a_withdrawal_re_includes_and_is_kept_in_the_history(t) {
        let f = fixture(t, Policy::default()).await;
        let person = PersonKey::generate();
        let stranger = PersonKey::generate();
        let opt_out = f.registry.opt_out(request(person, "all"), patient()).await.expect("opt out");
        let ordinary = DataUse::default();
        assert!(f.registry.exclusion(&ordinary, now(&f)).await.expect("set").contains(&person));

        let theirs = f.registry.withdraw(withdrawal(stranger, &opt_out), patient()).await;
        let err = theirs.expect_err("another person's receipt");
        assert!(matches!(err, Error::NotYours(_)));
        assert!(err.to_string().starts_with("no opt-out with receipt number"), "{err}");

        f.clock.advance_micros(1);
        let w = f.registry.withdraw(withdrawal(person, &opt_out), patient()).await.expect("withdraw");
        assert!(!f.registry.exclusion(&ordinary, now(&f)).await.expect("set").contains(&person));
        let again = f.registry.withdraw(withdrawal(person, &opt_out), patient()).await;
        assert!(matches!(again, Err(Error::AlreadyWithdrawn { ref by, .. }) if *by == w.receipt), "{again:?}");

        let history = f.registry.history(&person).await.expect("history");
        assert_eq!(history.len(), 2, "nothing is forgotten");
        assert_eq!(history[0].receipt, opt_out.receipt);
        assert_eq!(history[1].receipt, w.receipt);
        assert_eq!(f.registry.change(&w.receipt).await.expect("by receipt").scope, Scope::All);
        assert!(f.registry.status(&person, now(&f)).await.expect("status").is_empty());
    }
);

test_on_both_backends!(
    async fn opt_outs_arriving_while_an_extract_is_built_are_wholly_in_or_out(t) {
        let f = fixture(t, Policy::default()).await;
        let persons: Vec<PersonKey> = (0..300).map(|_| PersonKey::generate()).collect();
        let writers: Vec<_> = persons
            .iter()
            .map(|p| {
                let registry = f.registry.clone();
                let r = request(*p, "all");
                tokio::spawn(async move { registry.opt_out(r, patient()).await })
            })
            .collect();
        let ordinary = DataUse::default();
        let mut sets = Vec::new();
        for _ in 0..20 {
            sets.push(f.registry.exclusion(&ordinary, now(&f)).await.expect("set"));
            tokio::task::yield_now().await;
        }
        let mut version_of = std::collections::HashMap::new();
        for w in writers {
            let change = w.await.expect("task").expect("opt out");
            version_of.insert(change.person, change.version);
        }
        assert_eq!(version_of.len(), 300);
        for set in sets {
            let expected: HashSet<PersonKey> = version_of
                .iter()
                .filter(|(_, v)| **v <= set.version())
                .map(|(p, _)| *p)
                .collect();
            let got: HashSet<PersonKey> = set.person_keys().into_iter().collect();
            assert_eq!(got, expected, "the set at version {} holds exactly the changes up to it", set.version());
        }
        assert_eq!(f.registry.version().await.expect("version"), 300);
    }
);

test_on_both_backends!(
    async fn concurrent_updates_to_the_same_person_lose_nothing(t) {
        let f = fixture(t, Policy::default()).await;
        let person = PersonKey::generate();
        let scopes = ["all", "commercial", "foreign", "genomic", "imaging"];
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let registry = f.registry.clone();
                let r = request(person, scopes[i % scopes.len()]);
                tokio::spawn(async move { registry.opt_out(r, patient()).await })
            })
            .collect();
        let mut changes = Vec::new();
        for task in tasks {
            changes.push(task.await.expect("task").expect("opt out"));
        }
        let versions: HashSet<u64> = changes.iter().map(|c| c.version).collect();
        assert_eq!(versions, (1..=50).collect(), "each change its own version, none lost");
        assert_eq!(f.registry.history(&person).await.expect("history").len(), 50);
        assert_eq!(f.registry.status(&person, now(&f)).await.expect("status").len(), 50);

        // Ten withdrawals of one opt-out at once: exactly one is taken.
        let target = changes[0].clone();
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let registry = f.registry.clone();
                let w = withdrawal(person, &target);
                tokio::spawn(async move { registry.withdraw(w, patient()).await })
            })
            .collect();
        let mut taken = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(_) => taken += 1,
                Err(Error::AlreadyWithdrawn { .. }) => {}
                Err(e) => panic!("unexpected: {e}"),
            }
        }
        assert_eq!(taken, 1);
        assert_eq!(f.registry.version().await.expect("version"), 51);
    }
);

test_on_both_backends!(
    async fn every_change_is_audited_and_none_is_made_without_its_entry(t) {
        let f = fixture(t, Policy::default()).await;
        let person = PersonKey::generate();
        let change = f.registry.opt_out(request(person, "imaging"), patient()).await.expect("opt out");
        f.registry.withdraw(withdrawal(person, &change), patient()).await.expect("withdraw");
        let events = f.audit.events.lock().expect("lock").clone();
        let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["optout.opt_out", "optout.withdraw"]);
        assert!(events[0].object.contains(change.receipt.as_str()), "{}", events[0].object);
        drop(f);

        // A log that refuses: the change is not made.
        let clock = Arc::new(FixedClock::new(Timestamp::from_unix_micros(T0)));
        let refusing = Arc::new(Audit { refuse: true, ..Default::default() });
        let registry = Registry::open(&t.stores, clock, refusing, Policy::default(), Arc::new(Deaths::default())).await.expect("open");
        let err = registry.opt_out(request(person, "all"), patient()).await.expect_err("no audit, no change");
        assert!(matches!(err, Error::Audit(_)), "{err}");
        assert_eq!(registry.version().await.expect("version"), 2);
        assert_eq!(registry.history(&person).await.expect("history").len(), 2);
    }
);

test_on_both_backends!(
    async fn the_registry_reopens_as_it_was(t) {
        let f = fixture(t, Policy::default()).await;
        let a = PersonKey::generate();
        let b = PersonKey::generate();
        f.registry.opt_out(request(a, "all"), patient()).await.expect("a");
        let change = f.registry.opt_out(request(b, "commercial"), patient()).await.expect("b");
        f.registry.withdraw(withdrawal(b, &change), patient()).await.expect("withdraw b");
        let (first, last) = f
            .registry
            .import((0..1000).map(|_| request(PersonKey::generate(), "genomic")).collect(), patient())
            .await
            .expect("import");
        assert_eq!((first, last), (4, 1003));
        let genomic = DataUse::parse("genomic").expect("use");
        let before = f.registry.exclusion(&genomic, now(&f)).await.expect("before");
        assert_eq!(before.len(), 1001);
        drop(f);
        let f = fixture(t, Policy::default()).await;
        let after = f.registry.exclusion(&genomic, now(&f)).await.expect("after");
        assert_eq!(after.version(), 1003);
        assert_eq!(after.person_keys(), before.person_keys());
        assert!(after.contains(&a) && !after.contains(&b));
    }
);

test_on_both_backends!(
    async fn the_policy_decides_whether_bereaved_family_may_act(t) {
        let strict = Policy { bereaved_family_may_act: false, ..Policy::default() };
        let f = fixture(t, strict).await;
        let mut r = request(PersonKey::generate(), "all");
        r.submitter = Submitter::BereavedFamily { relation: "配偶者".to_owned() };
        let err = f.registry.opt_out(r.clone(), patient()).await.expect_err("not allowed");
        assert!(matches!(err, Error::NotAllowed(_)), "{err}");
        r.submitter = Submitter::Representative { relation: " ".to_owned() };
        let err = f.registry.opt_out(r.clone(), patient()).await.expect_err("no relation");
        assert!(err.to_string().contains("relation"), "{err}");
        r.submitter = Submitter::Representative { relation: "親権者".to_owned() };
        let change = f.registry.opt_out(r, patient()).await.expect("a parent may");
        assert_eq!(change.submitter.label_ja(), "法定代理人（親権者）");
    }
);

test_on_both_backends!(
    async fn bereaved_family_act_only_for_a_person_whose_death_is_on_record(t) {
        let (dead, living) = (PersonKey::generate(), PersonKey::generate());
        let f = fixture_with_deaths(t, Policy::default(), Deaths([dead].into_iter().collect())).await;
        let family = Submitter::BereavedFamily { relation: "配偶者".to_owned() };
        let mut r = request(living, "all");
        r.submitter = family.clone();
        let err = f.registry.opt_out(r, patient()).await.expect_err("alive, as far as the lake knows");
        assert!(matches!(err, Error::NoDeathOnRecord(p) if p == living), "{err}");
        assert!(f.registry.history(&living).await.expect("history").is_empty(), "nothing recorded");
        let mut r = request(dead, "all");
        r.submitter = family.clone();
        let change = f.registry.opt_out(r, patient()).await.expect("for the deceased");
        // And only for them: withdrawing as family needs the death too.
        let mut w = withdrawal(dead, &change);
        w.submitter = family;
        f.registry.withdraw(w, patient()).await.expect("family may withdraw it");
    }
);

test_on_both_backends!(
    async fn the_register_counts_by_scope_and_month_and_hides_small_counts(t) {
        let f = fixture(t, Policy::default()).await;
        let mut changes = Vec::new();
        for i in 0..12 {
            let scope = if i < 10 { "all" } else { "commercial,genomic" };
            changes.push(f.registry.opt_out(request(PersonKey::generate(), scope), patient()).await.expect("opt out"));
        }
        f.registry.withdraw(withdrawal(changes[0].person, &changes[0]), patient()).await.expect("withdraw");
        // Published at midnight in Japan: today's changes are not shown
        // today (a count moving by one would tell one patient's choice).
        let today = f.registry.register_stats(10, f.clock.now()).await.expect("stats");
        assert!(today.in_force.iter().all(|(_, n)| n.to_string() == "0"), "{today:?}");
        assert!(today.months.is_empty(), "{today:?}");
        let stats = f.registry.register_stats(10, Timestamp::from_unix_micros(f.clock.now().unix_micros() + DAY)).await.expect("stats");
        assert!(stats.published_at > f.clock.now());
        let in_force: std::collections::HashMap<_, _> =
            stats.in_force.iter().map(|(k, v)| (k.as_str(), v.to_string())).collect();
        assert_eq!(in_force["all"], "<10", "nine in force: below the threshold");
        assert_eq!(in_force["commercial"], "<10");
        assert_eq!(in_force["imaging"], "0");
        let month = &stats.months.iter().find(|m| m.scope == "all").expect("all row");
        assert_eq!(month.month, "2027-01", "T0 is 2027-01-15 in Japan");
        assert_eq!(month.opt_outs.to_string(), "10");
        assert_eq!(month.withdrawals.to_string(), "<10");
    }
);

test_on_both_backends!(
    async fn the_opt_out_contract_answers_as_the_registry_does(t) {
        use renkei_core::{OptOutRegistry, Purpose};
        let f = fixture(t, Policy::default()).await;
        let contract: &dyn OptOutRegistry = &f.registry;
        let (everything, genomic_only) = (PersonKey::generate(), PersonKey::generate());
        let before = contract.exclusion(&DataUse::default()).await.expect("before");
        assert!(before.persons.is_empty());
        f.registry.opt_out(request(everything, "all"), patient()).await.expect("opt out");
        let last = f.registry.opt_out(request(genomic_only, "genomic"), patient()).await.expect("opt out");
        // An ordinary use leaves out only who opted out of everything; a
        // genomic one both. Each answer names the version it reflects.
        let ordinary = contract.exclusion(&DataUse::default()).await.expect("ordinary");
        assert_eq!(ordinary.persons, [everything].into_iter().collect());
        assert_eq!(ordinary.registry_version, last.version);
        let genomic = contract.exclusion(&DataUse::of([Purpose::Genomic])).await.expect("genomic");
        assert_eq!(genomic.persons, [everything, genomic_only].into_iter().collect());
        // The same answer as the registry's own, at the same version.
        let own = f.registry.exclusion(&DataUse::of([Purpose::Genomic]), now(&f)).await.expect("own");
        assert_eq!(own.version(), genomic.registry_version);
        assert_eq!(own.person_keys().into_iter().collect::<std::collections::HashSet<_>>(), genomic.persons);
    }
);
