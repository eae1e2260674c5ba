//! Bad input: each refused where and why, and nothing already accepted lost.

use renkei_collect::{Error, Limit, Limits};
use renkei_store::test_on_both_backends;

use super::*;

test_on_both_backends!(
    async fn bad_resources_are_refused_one_by_one_with_their_location(t) {
        let intake = intake(&t.stores).await;
        let mut missing_status: serde_json::Value = serde_json::from_str(&observation("o2", "p1", 1.0, None)).expect("json");
        missing_status.as_object_mut().expect("object").remove("status");
        let lines = [
            patient("p1", "L1", "01010016:1:2:00"),
            "{\"resourceType\": \"Observation\", \"id\": ".to_owned() + "\"o1\"," + "\"status\": }",
            "{\"id\": \"x\"}".to_owned(),
            missing_status.to_string(),
            "{\"resourceType\": \"Observaton\", \"id\": \"o3\"}".to_owned(),
            observation("o4", "p1", 2.0, None).replace("Patient/p1", "Patient/"),
            observation("o5", "p1", 3.0, None),
        ];
        let r = submit(&intake, HOSPITAL, ndjson(&lines)).await;
        let totals = r.totals();
        assert_eq!((totals.received, totals.accepted, totals.rejected), (7, 2, 5), "{r:#?}");
        let lines: Vec<u64> = r.rejected.iter().filter_map(|x| x.location.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6]);
        let diagnostics: Vec<String> = r.rejected.iter().map(|x| x.outcome.to_string()).collect();
        assert!(diagnostics[0].contains("malformed JSON"), "{}", diagnostics[0]);
        assert!(diagnostics[1].contains("resourceType"), "{}", diagnostics[1]);
        assert!(diagnostics[2].contains("Observation.status"), "{}", diagnostics[2]);
        assert!(diagnostics[3].contains("Observaton"), "{}", diagnostics[3]);
        assert!(diagnostics[4].contains("Observation.subject"), "{}", diagnostics[4]);
        assert_eq!(rows(&t.stores, "observation").await, 1, "the good one is in");
    }
);

test_on_both_backends!(
    async fn a_cut_stream_or_broken_gzip_commits_nothing(t) {
        use std::io::Write;
        let intake = intake(&t.stores).await;
        let good = ndjson(&[patient("p1", "L1", "01010016:1:2:00"), observation("o1", "p1", 1.0, None)]);
        let cut = format!("{good}{}", &observation("o2", "p1", 2.0, None)[..40]);
        let err = intake.submit(&sender(), &code(HOSPITAL), std::io::Cursor::new(cut.into_bytes())).await.expect_err("cut off");
        assert!(matches!(err, Error::Incomplete { .. }), "{err}");
        assert!(err.to_string().contains("line 3"), "{err}");
        assert_eq!(lake_version(&t.stores).await, None, "nothing committed");

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(good.as_bytes()).expect("gzip");
        let gz = gz.finish().expect("gzip");
        let err = intake.submit(&sender(), &code(HOSPITAL), std::io::Cursor::new(gz[..gz.len() / 2].to_vec())).await.expect_err("broken gzip");
        assert!(matches!(err, Error::Incomplete { .. }), "{err}");
        assert_eq!(lake_version(&t.stores).await, None, "nothing committed");
        assert_eq!(intake.pending_count(&code(HOSPITAL)).await.expect("count"), 0);

        // The whole gzip body is fine, and counts the same as plain NDJSON.
        let r = intake.submit(&sender(), &code(HOSPITAL), std::io::Cursor::new(gz)).await.expect("gzip body");
        assert_eq!(r.totals().accepted, 2, "{r:#?}");
        // A retry of the failed submissions' content is not mistaken for a duplicate.
        assert_eq!(rows(&t.stores, "observation").await, 1);
    }
);

test_on_both_backends!(
    async fn an_unregistered_provider_is_refused(t) {
        let intake = intake(&t.stores).await;
        let err = intake
            .submit(&sender(), &code("0112618510"), std::io::Cursor::new(patient("p1", "L1", "1:2:3:00").into_bytes()))
            .await
            .expect_err("unregistered");
        assert!(err.to_string().contains("not registered"), "{err}");
    }
);

test_on_both_backends!(
    async fn a_single_pretty_printed_resource_and_a_raw_type_are_accepted(t) {
        let intake = intake(&t.stores).await;
        let pretty = serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&patient("p1", "L1", "01010016:1:2:00")).expect("json")).expect("pretty");
        let r = submit(&intake, HOSPITAL, pretty).await;
        assert_eq!(r.counts["Patient"].accepted, 1, "{r:#?}");
        assert_eq!(r.rejected.len(), 0);
        // A type with no canonical table, about no patient: kept whole, scrubbed.
        let location = serde_json::json!({"resourceType": "Location", "id": "ward-3", "name": "3階東病棟", "status": "active"});
        let r = submit(&intake, HOSPITAL, location.to_string()).await;
        assert_eq!(r.counts["Location"].accepted, 1, "{r:#?}");
        let raw = table(&t.stores, "raw_resource").await;
        assert_eq!(texts(&raw, "resource_type"), [Some("Location".to_owned())]);
        assert_eq!(texts(&raw, "person_key"), [None]);
        assert!(!texts(&raw, "resource_json")[0].as_deref().unwrap_or("").contains("3階東病棟"));
    }
);

test_on_both_backends!(
    async fn a_document_over_the_limit_is_refused_but_ndjson_streams(t) {
        let limits = Limits { max_document_bytes: 200, ..Limits::default() };
        let config = IntakeConfig { limits, chunk_resources: 2, rows_per_file: 3 };
        let intake = intake_with(&t.stores, config).await;
        let pretty = serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&patient("p1", "L1", "01010016:1:2:00")).expect("json")).expect("pretty");
        let err = intake.submit(&sender(), &code(HOSPITAL), std::io::Cursor::new(pretty.into_bytes())).await.expect_err("too large");
        assert!(matches!(err, Error::TooLarge { limit: Limit::DocumentBytes, max: 200, .. }), "{err}");
        // NDJSON has no such limit; tiny chunks and files exercise staging.
        let mut lines = vec![patient("p1", "L1", "01010016:1:2:00")];
        lines.extend((0..10).map(|i| observation(&format!("o{i}"), "p1", f64::from(i), None)));
        let r = submit(&intake, HOSPITAL, ndjson(&lines)).await;
        assert_eq!(r.totals().accepted, 11, "{r:#?}");
        assert_eq!(rows(&t.stores, "observation").await, 10);
    }
);

// Attacks on the intake's limits (issue 15, finding 5): each part of a
// body past its limit is refused, located, before it is held, and nothing
// of the submission is committed.

/// The states of every submission, oldest first.
async fn states(intake: &renkei_collect::Intake) -> Vec<String> {
    sqlx::query_scalar::<_, String>("SELECT state FROM submissions ORDER BY id")
        .fetch_all(intake.db().pool())
        .await
        .expect("submission states")
}

/// `{"resourceType":"Bundle","type":"transaction","entry":[0,0,…]}` with
/// `n` zeros: the red team's Bundle, which once held 24 GB.
fn zeros_bundle(n: usize) -> Vec<u8> {
    let mut body = br#"{"resourceType":"Bundle","type":"transaction","entry":["#.to_vec();
    body.reserve(2 * n);
    for i in 0..n {
        if i > 0 {
            body.push(b',');
        }
        body.push(b'0');
    }
    body.extend_from_slice(b"]}");
    body
}

test_on_both_backends!(
    async fn a_bundle_of_zeros_past_the_entry_limit_is_refused_at_the_first_entry_too_many(t) {
        let limits = Limits { max_bundle_entries: 1000, ..Limits::default() };
        let intake = intake_with(&t.stores, IntakeConfig { limits, ..IntakeConfig::default() }).await;
        // 2 million entries (4 MiB): sent whole, as one line, and as an NDJSON line.
        let bomb = zeros_bundle(2_000_000);
        let err = intake.submit(&sender(), &code(HOSPITAL), std::io::Cursor::new(bomb.clone())).await.expect_err("too many entries");
        assert!(matches!(err, Error::TooLarge { limit: Limit::BundleEntries, max: 1000, .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("Bundle.entry[1000]") && text.contains("collect.max_bundle_entries = 1000 entries"), "{text}");
        let mut ndjson_body = patient("p1", "L1", "01010016:1:2:00").into_bytes();
        ndjson_body.push(b'\n');
        ndjson_body.extend_from_slice(&bomb);
        ndjson_body.push(b'\n');
        let err = intake.submit(&sender(), &code(HOSPITAL), std::io::Cursor::new(ndjson_body)).await.expect_err("too many entries");
        assert!(err.to_string().contains("Bundle.entry[1000] (line 2)"), "{err}");
        assert_eq!(lake_version(&t.stores).await, None, "nothing committed");
        assert_eq!(states(&intake).await, ["failed", "failed"]);

        // Within the limit, each zero is an entry refused where it stands.
        let r = submit(&intake, HOSPITAL, zeros_bundle(3)).await;
        assert_eq!(r.rejected.iter().map(|x| x.location.entry).collect::<Vec<_>>(), [Some(0), Some(1), Some(2)], "{r:#?}");
        assert_eq!(lake_version(&t.stores).await, None, "a refused transaction writes no rows");
    }
);

test_on_both_backends!(
    async fn a_gzip_bomb_is_refused_before_it_inflates_and_commits_nothing(t) {
        use std::io::Write;
        // 64 MiB of zeros compress to about 64 KiB (ratio ~1000).
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let mib = vec![b'0'; 1 << 20];
        for _ in 0..64 {
            gz.write_all(&mib).expect("gzip");
        }
        let bomb = gz.finish().expect("gzip");
        assert!(bomb.len() < 128 << 10, "{} bytes", bomb.len());

        let intake = intake(&t.stores).await;
        let err = intake.submit(&sender(), &code(HOSPITAL), std::io::Cursor::new(bomb.clone())).await.expect_err("gzip bomb");
        let Error::TooLarge { at, limit: Limit::GzipRatio, max: 100 } = &err else {
            panic!("refused for the ratio, not {err}");
        };
        // Refused soon after the 1 MiB grace, far from inflating it all:
        // never more than 100 times what the decoder took, plus a buffer.
        let inflated: u64 = at
            .rsplit(' ')
            .next()
            .and_then(|n| n.trim_end_matches(')').parse().ok())
            .unwrap_or_else(|| panic!("no inflated size in {at:?}"));
        assert!(inflated <= 100 * bomb.len() as u64 + (256 << 10), "{at}");

        // Past the inflated size too, whatever the ratio allows.
        let limits = Limits { max_decompressed_bytes: 8 << 20, max_gzip_ratio: 10_000, ..Limits::default() };
        let lenient = intake_with(&t.stores, IntakeConfig { limits, ..IntakeConfig::default() }).await;
        let err = lenient.submit(&sender(), &code(HOSPITAL), std::io::Cursor::new(bomb)).await.expect_err("gzip bomb");
        assert!(matches!(err, Error::TooLarge { limit: Limit::DecompressedBytes, max: 8_388_608, .. }), "{err}");
        assert_eq!(lake_version(&t.stores).await, None, "nothing committed");
        assert_eq!(states(&intake).await, ["failed", "failed"]);
    }
);

test_on_both_backends!(
    async fn a_line_over_the_limit_is_refused_with_its_line_number_without_being_read_whole(t) {
        let limits = Limits { max_line_bytes: 64 << 10, ..Limits::default() };
        let intake = intake_with(&t.stores, IntakeConfig { limits, ..IntakeConfig::default() }).await;
        let head = ndjson(&[patient("p1", "L1", "01010016:1:2:00"), observation("o1", "p1", 1.0, None)]);
        let prefix = format!("{head}{{\"resourceType\": \"Patient\", \"id\": \"p2\", \"name\": [{{\"text\": \"");
        // A 300 MiB third line, made as it is read, never held.
        let pulled = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let body = Generated::new(prefix.clone().into_bytes(), b'x', 300 << 20, pulled.clone());
        let err = intake.submit(&sender(), &code(HOSPITAL), body).await.expect_err("line too long");
        assert!(matches!(err, Error::TooLarge { limit: Limit::LineBytes, max: 65_536, .. }), "{err}");
        assert!(err.to_string().starts_with("line 3 is over the limit collect.max_line_bytes = 65536 bytes"), "{err}");
        // Bounded reading: the limit, plus the two 256 KiB read buffers.
        let read = pulled.load(std::sync::atomic::Ordering::Relaxed);
        let bound = (head.len() + (64 << 10) + 2 * (256 << 10)) as u64;
        assert!(read <= bound, "pulled {read} bytes, more than {bound}");
        assert_eq!(lake_version(&t.stores).await, None, "nothing committed");
        assert_eq!(states(&intake).await, ["failed"]);
    }
);

test_on_both_backends!(
    async fn a_name_over_the_attribute_limit_never_reaches_identity(t) {
        let identity = Arc::new(TestIdentity::default());
        let limits = Limits { max_string_bytes: 4096, ..Limits::default() };
        let intake = intake_with_identity(&t.stores, IntakeConfig { limits, ..IntakeConfig::default() }, identity.clone()).await;
        let mut long_name: serde_json::Value = serde_json::from_str(&patient("p2", "L2", "01010016:2:2:00")).expect("json");
        long_name["name"][0]["text"] = "髙".repeat(257).into();
        let mut long_string: serde_json::Value = serde_json::from_str(&observation("o2", "p1", 2.0, None)).expect("json");
        long_string["note"] = serde_json::json!([{"text": "x".repeat(5000)}]);
        let lines = [patient("p1", "L1", "01010016:1:2:00"), long_name.to_string(), long_string.to_string()];
        let r = submit(&intake, HOSPITAL, ndjson(&lines)).await;
        assert_eq!((r.totals().accepted, r.totals().rejected), (1, 2), "{r:#?}");
        let refused: Vec<(Option<u64>, String)> = r.rejected.iter().map(|x| (x.location.line, x.outcome["issue"][0]["expression"][0].as_str().unwrap_or("").to_owned())).collect();
        assert_eq!(refused, [(Some(2), "Patient.name".to_owned()), (Some(3), "Observation.note[0].text".to_owned())]);
        assert_eq!(r.rejected[0].outcome["issue"][0]["code"], "too-long");
        let text = r.rejected[0].outcome.to_string();
        assert!(text.contains("collect.max_attribute_chars") && !text.contains('髙'), "located, and without the name: {text}");
        let longest = identity.longest_name.load(std::sync::atomic::Ordering::Relaxed);
        assert!((1..=256).contains(&longest), "identity saw a name of {longest} characters");
    }
);

test_on_both_backends!(
    async fn a_submission_dropped_mid_body_rolls_back_and_commits_nothing(t) {
        let config = IntakeConfig { chunk_resources: 2, rows_per_file: 1, ..IntakeConfig::default() };
        let intake = intake_with(&t.stores, config).await;
        let mut lines = vec![patient("p1", "L1", "01010016:1:2:00")];
        lines.extend((0..6).map(|i| observation(&format!("o{i}"), "p1", f64::from(i), None)));
        let (told, stalled) = tokio::sync::oneshot::channel();
        let body = Stalls { prefix: std::io::Cursor::new(ndjson(&lines).into_bytes()), told: Some(told) };
        let submitting = {
            let intake = intake.clone();
            tokio::spawn(async move { intake.submit(&sender(), &code(HOSPITAL), body).await })
        };
        // The intake has read (and staged files for) every line sent, and
        // waits for more; then the caller goes away.
        stalled.await.expect("the intake reads up to where the client stopped");
        submitting.abort();
        assert!(submitting.await.expect_err("dropped").is_cancelled());
        // The provider's next submission waits for the rollback to finish.
        let r = submit(&intake, HOSPITAL, ndjson(&[patient("p2", "L2", "01010016:2:2:00")])).await;
        assert_eq!(r.totals().accepted, 1, "{r:#?}");
        assert_eq!(states(&intake).await, ["failed", "committed"]);
        assert_eq!(rows(&t.stores, "observation").await, 0, "nothing of the dropped submission is in the lake");
        assert_eq!(texts(&table(&t.stores, "person").await, "source_id"), [Some("p2".to_owned())]);
        assert_eq!(intake.pending_count(&code(HOSPITAL)).await.expect("count"), 0);
    }
);

/// A body made as it is read: `prefix`, then `fill` up to `len` bytes in
/// all, counting the bytes pulled from it.
struct Generated {
    prefix: std::io::Cursor<Vec<u8>>,
    fill: u8,
    len: u64,
    pos: u64,
    pulled: Arc<std::sync::atomic::AtomicU64>,
}

impl Generated {
    fn new(prefix: Vec<u8>, fill: u8, len: u64, pulled: Arc<std::sync::atomic::AtomicU64>) -> Self {
        Self {
            prefix: std::io::Cursor::new(prefix),
            fill,
            len,
            pos: 0,
            pulled,
        }
    }
}

impl tokio::io::AsyncRead for Generated {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let rest = &this.prefix.get_ref()[this.prefix.position() as usize..];
        if rest.is_empty() {
            let n = (this.len.saturating_sub(this.pos)).min(buf.remaining() as u64) as usize;
            buf.put_slice(&vec![this.fill; n]);
        } else {
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.prefix.set_position(this.prefix.position() + n as u64);
        }
        let n = (buf.filled().len() - before) as u64;
        this.pos += n;
        this.pulled
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        std::task::Poll::Ready(Ok(()))
    }
}

/// A client that sends `prefix`, then stops sending without closing: it
/// says so once, and never gives more.
struct Stalls {
    prefix: std::io::Cursor<Vec<u8>>,
    told: Option<tokio::sync::oneshot::Sender<()>>,
}

impl tokio::io::AsyncRead for Stalls {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = &mut *self;
        let rest = &this.prefix.get_ref()[this.prefix.position() as usize..];
        if rest.is_empty() {
            if let Some(told) = this.told.take() {
                let _ = told.send(());
            }
            // Never woken: the intake must be stopped from outside.
            return std::task::Poll::Pending;
        }
        let n = rest.len().min(buf.remaining());
        buf.put_slice(&rest[..n]);
        this.prefix.set_position(this.prefix.position() + n as u64);
        std::task::Poll::Ready(Ok(()))
    }
}

test_on_both_backends!(
    async fn a_warning_reaches_the_sender_in_the_receipt(t) {
        // Issue 16: an unknown code in a known system was accepted and the
        // warning never reached the sender.
        let intake = intake(&t.stores).await;
        let mut o: serde_json::Value = serde_json::from_str(&observation("o1", "p1", 1.0, None)).expect("json");
        o["code"]["coding"][0]["code"] = serde_json::json!("9Z999000000000000");
        let r = submit(&intake, HOSPITAL, ndjson(&[patient("p1", "L1", "01010016:1:2:00"), o.to_string()])).await;
        assert_eq!(r.totals().accepted, 2, "a warning does not refuse: {r:?}");
        let warned: Vec<&str> = r.notices.iter().filter(|n| n.resource == "Observation/o1").map(|n| n.message.as_str()).collect();
        assert!(warned.iter().any(|m| m.starts_with("warning at Observation.code.coding[0].code:")), "{warned:?}");
    }
);
