//! Identity commits or rolls back with the submission (issue 15, finding
//! 9): a submission refused, dropped midway (a client that stalls until
//! the request times out) or cut by a crash leaves no person, token or
//! record in identity and no submission `receiving`.

use std::pin::Pin;
use std::task::{Context, Poll};

use renkei_collect::Error;
use renkei_store::test_on_both_backends;
use tokio::io::{AsyncRead, ReadBuf};

use super::*;

/// A body that gives `data`, says so on `asked` when it is asked for
/// more, and then never ends: a client that stops sending midway.
struct Stalled {
    data: Vec<u8>,
    at: usize,
    asked: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Stalled {
    fn new(data: String) -> (Self, tokio::sync::oneshot::Receiver<()>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        (
            Self {
                data: data.into_bytes(),
                at: 0,
                asked: Some(tx),
            },
            rx,
        )
    }
}

impl AsyncRead for Stalled {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.at < self.data.len() {
            let n = (self.data.len() - self.at).min(buf.remaining());
            let at = self.at;
            buf.put_slice(&self.data[at..at + n]);
            self.at += n;
            return Poll::Ready(Ok(()));
        }
        if let Some(asked) = self.asked.take() {
            let _ = asked.send(());
        }
        // Never woken: the client sends nothing more.
        Poll::Pending
    }
}

/// Three new patients, one per chunk, so each is resolved (and staged in
/// identity) before the body is read to its end.
fn three_patients() -> String {
    ndjson(&[
        patient("p1", "L1", "01010016:1:1:00"),
        patient("p2", "L2", "01010016:1:2:00"),
        patient("p3", "L3", "01010016:1:3:00"),
    ])
}

fn one_per_chunk() -> IntakeConfig {
    IntakeConfig {
        chunk_resources: 1,
        ..IntakeConfig::default()
    }
}

async fn states(intake: &Intake) -> Vec<String> {
    sqlx::query_scalar("SELECT state FROM submissions ORDER BY id")
        .fetch_all(intake.db().pool())
        .await
        .expect("states")
}

test_on_both_backends!(
    async fn a_refused_submission_leaves_no_person_in_identity(t) {
        let identity = Arc::new(TestIdentity::default());
        let intake = intake_for(&t.stores, one_per_chunk(), identity.clone()).await;
        let cut = format!("{}{}", three_patients(), &patient("p4", "L4", "01010016:1:4:00")[..40]);
        let err = intake.submit(&sender(), &code(HOSPITAL), std::io::Cursor::new(cut.into_bytes())).await.expect_err("cut off");
        assert!(matches!(err, Error::Incomplete { .. }), "{err}");
        assert_eq!(identity.persons(), 0, "a refused submission created persons");
        assert_eq!(identity.staged_batches(), 0, "a refused submission left staged resolutions");
        assert_eq!(states(&intake).await, ["failed"]);

        // Sent whole, the same patients are committed, once each.
        let r = submit(&intake, HOSPITAL, three_patients()).await;
        assert_eq!(r.totals().accepted, 3);
        assert_eq!(identity.persons(), 3);
        assert_eq!(identity.staged_batches(), 0);
    }
);

test_on_both_backends!(
    async fn a_submission_dropped_midway_is_discarded_at_once(t) {
        let identity = Arc::new(TestIdentity::default());
        let intake = intake_for(&t.stores, one_per_chunk(), identity.clone()).await;
        let (body, asked) = Stalled::new(three_patients());
        let task = tokio::spawn({
            let intake = intake.clone();
            async move { intake.submit(&sender(), &code(HOSPITAL), body).await }
        });
        asked.await.expect("the body is read to where it stalls");
        assert_eq!(identity.staged_batches(), 1, "the patients read so far are staged");
        assert_eq!(identity.persons(), 0, "and not visible");
        // The request times out: its future is dropped mid-read.
        task.abort();
        assert!(task.await.expect_err("aborted").is_cancelled());
        intake.settled().await;
        assert_eq!(states(&intake).await, ["failed"], "no submission stays receiving");
        assert_eq!(identity.staged_batches(), 0, "a dropped submission left staged resolutions");
        assert_eq!(identity.persons(), 0);
        // The provider's turn was given back.
        assert_eq!(submit(&intake, HOSPITAL, three_patients()).await.totals().accepted, 3);
    }
);

test_on_both_backends!(
    async fn a_submission_cut_by_a_crash_is_discarded_at_the_next_start(t) {
        let identity = Arc::new(TestIdentity::default());
        let intake = intake_for(&t.stores, one_per_chunk(), identity.clone()).await;
        let (body, asked) = Stalled::new(three_patients());
        let hospital = code(HOSPITAL);
        let by = sender();
        let mut submission = Box::pin(intake.submit(&by, &hospital, body));
        tokio::select! {
            r = &mut submission => panic!("a stalled body cannot finish: {r:?}"),
            _ = asked => {}
        }
        // kill -9: nothing of the submission's own clean-up runs.
        std::mem::forget(submission);
        assert_eq!(identity.staged_batches(), 1);
        assert_eq!(states(&intake).await, ["receiving"]);

        let restarted = intake_for(&t.stores, one_per_chunk(), identity.clone()).await;
        assert_eq!(states(&restarted).await, ["failed"]);
        assert_eq!(identity.staged_batches(), 0, "recovery left staged resolutions");
        assert_eq!(identity.persons(), 0);
    }
);
