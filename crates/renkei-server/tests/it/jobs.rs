//! Jobs (issue 15, finding 10): long work answers 202 at once and is read
//! back at its resource; only its starter, operators and auditors see it;
//! its failure is kept as the request would have answered; a stop does not
//! leave it running for ever.

use renkei_core::Role;
use renkei_server::Error;
use renkei_server::jobs::{Done, JobKind, JobState, Jobs};
use reqwest::Method as M;
use serde_json::Value;

use crate::app_test;
use crate::processing::send;

app_test!(
    async fn a_job_is_seen_by_its_starter_and_overseers_only(app) {
        let (permit, _) = crate::analysis::permit_with_data(&app).await;
        let resp = app.http.post(app.url(&format!("/api/v1/permits/{permit}/extracts"))).bearer_auth(&app.creds(Role::Operator).token).send().await.expect("send");
        assert_eq!(resp.status(), 202);
        let job: Value = resp.json().await.expect("job");
        let at = format!("/api/v1/jobs/{}", job["id"].as_str().expect("id"));
        app.state.jobs().settled().await;
        let seen = send(&app, Role::Auditor, M::GET, &at, Value::Null, 200).await;
        assert_eq!(seen["state"], "succeeded", "{seen}");
        assert_eq!(seen["kind"], "extract");
        assert_eq!(seen["subject"], format!("permit={permit}"));
        assert!(seen["result"]["extract"].is_string(), "{seen}");
        // A researcher (even the permit's) and a provider do not learn the
        // job exists, nor a job that never did.
        for role in [Role::Applicant, Role::Provider, Role::Reviewer] {
            send(&app, role, M::GET, &at, Value::Null, 404).await;
        }
        send(&app, Role::Operator, M::GET, "/api/v1/jobs/00000000-0000-7000-8000-000000000000", Value::Null, 404).await;
        app.stop().await;
    }
);

app_test!(
    async fn a_failed_job_keeps_the_problem_the_request_would_have_answered(app) {
        let op = app.state.accounts().user_by_name(&app.creds(Role::Operator).username).await.expect("lookup").expect("operator");
        let work = Box::pin(async { Err::<Done, _>(Error::Conflict("permit P is revoked".to_owned())) });
        let job = app.state.jobs().start(JobKind::Extract, "permit=P".to_owned(), &op, work).await.expect("started");
        assert_eq!(job.state, JobState::Running);
        app.state.jobs().settled().await;
        let ended = app.state.jobs().get(&job.id).await.expect("get").expect("the job");
        assert_eq!(ended.state, JobState::Failed);
        let problem = ended.problem.expect("a problem");
        assert_eq!((problem.status, problem.detail.as_deref()), (409, Some("permit P is revoked")));
        assert!(ended.result.is_none() && ended.finished_at.is_some());
        // An internal failure is shown without its cause.
        let work = Box::pin(async { Err::<Done, _>(Error::Internal("/var/lib/renkei/secret path".to_owned())) });
        let job = app.state.jobs().start(JobKind::Relink, "index".to_owned(), &op, work).await.expect("started");
        app.state.jobs().settled().await;
        let problem = app.state.jobs().get(&job.id).await.expect("get").expect("job").problem.expect("problem");
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.unwrap_or_default().contains("secret"), "the cause leaked");
        app.stop().await;
    }
);

app_test!(
    async fn a_job_a_stop_interrupted_is_failed_at_the_next_start(app) {
        let op = app.state.accounts().user_by_name(&app.creds(Role::Operator).username).await.expect("lookup").expect("operator");
        // Work that never ends, as a build cut by a kill -9 would look.
        let work = Box::pin(futures::future::pending::<Result<Done, Error>>());
        let job = app.state.jobs().start(JobKind::Extract, "permit=P".to_owned(), &op, work).await.expect("started");
        let clock: std::sync::Arc<dyn renkei_core::Clock> = std::sync::Arc::new(renkei_core::SystemClock);
        let restarted = Jobs::open(app.state.accounts().db().clone(), clock, std::sync::Arc::new(app.state.audit().clone())).await.expect("open");
        let seen = restarted.get(&job.id).await.expect("get").expect("the job");
        assert_eq!(seen.state, JobState::Failed, "left running for ever");
        assert!(seen.problem.expect("problem").detail.unwrap_or_default().contains("start it again"));
    }
);
