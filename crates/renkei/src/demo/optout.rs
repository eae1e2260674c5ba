//! The demo's opt-out step (オプトアウト): patients opt out through the
//! portal's API, operators enter paper forms, some withdraw or take
//! effect later; then the exclusion sets an extract would ask for.

use std::collections::BTreeMap;

use anyhow::{Context, ensure};
use renkei_core::Role;
use reqwest::Method as M;
use serde_json::{Value, json};

use super::{Login, Walk, send, send_as, synthetic_patients};

/// A share of the synthetic persons opt out with mixed scopes: some as
/// patients do, identifying themselves to the portal's API with what is
/// on their insurance card; the rest on paper forms an operator enters.
/// One withdraws, one opts out from next month. Then the exclusion sets
/// an extract would ask for.
pub(super) async fn step_optout(
    walk: &mut Walk,
    state: &renkei_server::AppState,
    logins: &[Login],
) -> anyhow::Result<()> {
    let operator = logins
        .iter()
        .find(|l| l.role == Role::Operator)
        .context("no operator login")?;
    // Each person once, with a record that carries an insurance card.
    let mut persons: BTreeMap<String, renkei_core::IdentifyingAttributes> = BTreeMap::new();
    for a in synthetic_patients(state)? {
        let card = a.insurer_number.is_some() && a.insured_number.is_some();
        if !card || a.kana_name.is_none() || a.birth_date.is_none() {
            continue;
        }
        if let Some(person) = state.identity().identify(&a).await? {
            persons.entry(person.to_string()).or_insert(a);
        }
    }
    ensure!(
        persons.len() >= 100,
        "only {} synthetic persons can identify themselves",
        persons.len()
    );
    let scopes = [
        "all",
        "commercial",
        "genomic,imaging",
        "foreign",
        "category:mental_health",
    ];
    let (mut via_portal, mut via_paper, mut withdrawn, mut future) = (0u64, 0u64, 0u64, 0u64);
    let mut portal_persons = Vec::new();
    // Every tenth person opts out (deterministic: the key order).
    for (i, (person, a)) in persons.iter().enumerate().filter(|(i, _)| i % 10 == 0) {
        let scope = scopes[(i / 10) % scopes.len()];
        if (i / 10) % 3 == 0 {
            let sex = match a.sex {
                Some(renkei_core::Sex::Male) => "male",
                _ => "female",
            };
            let card = json!({
                "kana_name": a.kana_name, "birth_date": a.birth_date, "sex": sex,
                "insurer_number": a.insurer_number, "insured_symbol": a.insured_symbol,
                "insured_number": a.insured_number,
                "insured_branch": a.insured_branch,
            });
            // Identified by what is on the card: no account.
            let session = send_as(walk, M::POST, "/api/v1/patient/session", None, card, 201)
                .await
                .context("a synthetic patient identifying to the portal")?;
            let token = session["token"]
                .as_str()
                .context("session token")?
                .to_owned();
            let change = send(
                walk,
                M::POST,
                "/api/v1/patient/optouts",
                &token,
                json!({"scope": scope}),
                201,
            )
            .await?;
            ensure!(
                change["person"] == person.as_str(),
                "the portal opted out someone else"
            );
            via_portal += 1;
            portal_persons.push(person.clone());
            // Every fourth portal patient changes their mind.
            if via_portal % 4 == 0 {
                let receipt = change["receipt"].as_str().context("receipt")?;
                let path = format!("/api/v1/patient/optouts/{receipt}/withdraw");
                send(walk, M::POST, &path, &token, Value::Null, 201).await?;
                withdrawn += 1;
                portal_persons.pop();
            }
        } else {
            let submitter = if (i / 10) % 3 == 1 {
                json!({"kind": "self"})
            } else {
                json!({"kind": "representative", "relation": "親権者"})
            };
            let mut body = json!({"person_key": person, "scope": scope, "submitter": submitter});
            if (i / 10) % 7 == 5 {
                let next_month = state.clock().now().plus_micros(31 * 86_400_000_000);
                body["effective_from"] = json!(next_month.to_rfc3339());
                future += 1;
            }
            send(walk, M::POST, "/api/v1/optouts", &operator.token, body, 201)
                .await
                .context("an operator entering a paper opt-out")?;
            via_paper += 1;
        }
    }
    let (status, ordinary) = walk
        .get_json("/api/v1/optouts/exclusion?keys=true", Some(&operator.token))
        .await?;
    ensure!(status == 200, "exclusion answered {status}: {ordinary}");
    let (_, wide) = walk
        .get_json(
            "/api/v1/optouts/exclusion?use=commercial,foreign,genomic,imaging,category:mental_health&keys=true",
            Some(&operator.token),
        )
        .await?;
    let wide_keys: Vec<&str> = wide["person_keys"]
        .as_array()
        .context("person_keys")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for p in &portal_persons {
        ensure!(
            wide_keys.contains(&p.as_str()),
            "a portal opt-out is missing from the exclusion set"
        );
    }
    let (_, register) = walk.get_json("/api/v1/register/optouts", None).await?;
    walk.record("optouts", via_portal + via_paper);
    walk.record("optouts_via_portal", via_portal);
    walk.record("optout_withdrawals", withdrawn);
    walk.record("optouts_effective_later", future);
    walk.record(
        "optout_registry_version",
        ordinary["registry_version"].clone(),
    );
    walk.record("optout_excluded_any_study", ordinary["excluded"].clone());
    walk.record("optout_excluded_every_purpose", wide["excluded"].clone());
    walk.record(
        "optout_register_published_at",
        register["published_at"].clone(),
    );
    Ok(())
}
