//! Bad input: each refused where and why, and nothing already accepted lost.

use renkei_collect::Error;
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
        let err = intake.submit(&code(HOSPITAL), std::io::Cursor::new(cut.into_bytes())).await.expect_err("cut off");
        assert!(matches!(err, Error::Incomplete { .. }), "{err}");
        assert!(err.to_string().contains("line 3"), "{err}");
        assert_eq!(lake_version(&t.stores).await, None, "nothing committed");

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(good.as_bytes()).expect("gzip");
        let gz = gz.finish().expect("gzip");
        let err = intake.submit(&code(HOSPITAL), std::io::Cursor::new(gz[..gz.len() / 2].to_vec())).await.expect_err("broken gzip");
        assert!(matches!(err, Error::Incomplete { .. }), "{err}");
        assert_eq!(lake_version(&t.stores).await, None, "nothing committed");
        assert_eq!(intake.pending_count(&code(HOSPITAL)).await.expect("count"), 0);

        // The whole gzip body is fine, and counts the same as plain NDJSON.
        let r = intake.submit(&code(HOSPITAL), std::io::Cursor::new(gz)).await.expect("gzip body");
        assert_eq!(r.totals().accepted, 2, "{r:#?}");
        // A retry of the failed submissions' content is not mistaken for a duplicate.
        assert_eq!(rows(&t.stores, "observation").await, 1);
    }
);

test_on_both_backends!(
    async fn an_unregistered_provider_is_refused(t) {
        let intake = intake(&t.stores).await;
        let err = intake
            .submit(&code("0112618510"), std::io::Cursor::new(patient("p1", "L1", "1:2:3:00").into_bytes()))
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
        let config = IntakeConfig { max_document_bytes: 200, chunk_resources: 2, rows_per_file: 3 };
        let intake = intake_with(&t.stores, config).await;
        let pretty = serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&patient("p1", "L1", "01010016:1:2:00")).expect("json")).expect("pretty");
        let err = intake.submit(&code(HOSPITAL), std::io::Cursor::new(pretty.into_bytes())).await.expect_err("too large");
        assert!(matches!(err, Error::DocumentTooLarge { limit: 200 }), "{err}");
        // NDJSON has no such limit; tiny chunks and files exercise staging.
        let mut lines = vec![patient("p1", "L1", "01010016:1:2:00")];
        lines.extend((0..10).map(|i| observation(&format!("o{i}"), "p1", f64::from(i), None)));
        let r = submit(&intake, HOSPITAL, ndjson(&lines)).await;
        assert_eq!(r.totals().accepted, 11, "{r:#?}");
        assert_eq!(rows(&t.stores, "observation").await, 10);
    }
);
