//! Curation of the person index by operators: merging two persons that are
//! one, splitting records off a person they do not belong to, the
//! clerical-review queue, and reading a person's attributes for a stated
//! reason.
//!
//! Nothing is lost or rewritten in place. A merged person's key stays valid
//! and resolves to the survivor ([`PersonIndex::current`]); a split moves
//! attribute records (re-encrypted under their new person, since the
//! ciphertext is bound to it) and only those match tokens that no record
//! left behind produces. Every merge and split is an event in
//! `person_events` with its actor and reason, in order
//! ([`PersonIndex::events_since`]), which is what maps lake rows keyed by
//! an old person_key onto the current one.
//!
//! Auditing is the caller's: these functions are reached through the
//! server's access layer, which logs the operator, the action and the
//! object before the answer is seen.

use std::collections::{BTreeSet, HashMap, HashSet};

use renkei_core::{Actor, AuditEvent, IdentifyingAttributes, PersonKey, ProviderCode, Timestamp};
use renkei_store::Backend;
use serde::Serialize;
use sqlx::Row;

use crate::index::{
    LinkState, RESOLVE_LOCK_KEY, bind_vacant, context, insert_tokens, known_holders, parse_key,
};
use crate::token::TokenKind;
use crate::vault::Sealed;
use crate::{Error, PersonIndex, Result};

/// Why a link is in the review queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewReason {
    /// Linked by kana name, birth date and sex alone, although the record
    /// carries a number (insurance, or the provider's patient id) its
    /// person never had: an insurer change, a first visit elsewhere, or a
    /// namesake born the same day.
    NameBirthSexOnly,
    /// Linked by a number (insurance, or the provider's patient id), but
    /// the record's kana name, birth date and sex are not ones the person
    /// is known by: a typo or a changed name — or someone claiming another
    /// person's card.
    AttributesDisagree,
    /// The probabilistic pass found the record likely to be the same person
    /// as another one ([`ReviewItem::other_person`]), in the band below the
    /// automatic link threshold.
    Probabilistic,
    /// Two batches staged at once gave one token to two persons (two
    /// providers sending one new patient in the same minute); the token
    /// stayed with the person committed first ([`ReviewItem::other_person`]).
    /// `Same` merges the two.
    ConcurrentLink,
}

impl ReviewReason {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewReason::NameBirthSexOnly => "name_birth_sex_only",
            ReviewReason::AttributesDisagree => "attributes_disagree",
            ReviewReason::Probabilistic => "probabilistic",
            ReviewReason::ConcurrentLink => "concurrent_link",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "name_birth_sex_only" => Some(ReviewReason::NameBirthSexOnly),
            "attributes_disagree" => Some(ReviewReason::AttributesDisagree),
            "probabilistic" => Some(ReviewReason::Probabilistic),
            "concurrent_link" => Some(ReviewReason::ConcurrentLink),
            _ => None,
        }
    }
}

/// A reviewer's answer to a queued link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The record belongs to the person: the link stands (for a
    /// probabilistic item: the two persons are merged).
    Same,
    /// It does not: the record is split off into a person of its own (for
    /// a probabilistic item: the two persons stay apart).
    Different,
}

/// Where a review item stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    /// Waiting for a reviewer.
    Open,
    /// Decided: same person (the record's link is trusted from now on).
    Same,
    /// Decided: a different person (the record was split off).
    Different,
}

/// One link waiting for (or given) a reviewer's decision. Holds keys and
/// ids only, never an attribute.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReviewItem {
    /// The item's id.
    pub id: String,
    /// The attribute record that was linked.
    pub record_id: String,
    /// The person it was put under.
    pub person_key: PersonKey,
    /// The other person it may belong to (probabilistic items).
    pub other_person: Option<PersonKey>,
    /// The match probability (probabilistic items).
    pub score: Option<f64>,
    /// Why it is here.
    pub reason: ReviewReason,
    /// The state.
    pub state: ReviewState,
    /// When it was queued.
    pub created_at: Timestamp,
}

/// A merge or a split, as recorded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PersonEvent {
    /// Order of the event (1, 2, …).
    pub seq: i64,
    /// The event's id.
    pub id: String,
    /// `merge` or `split`.
    pub kind: &'static str,
    /// Merge: the person merged away. Split: the person records left.
    pub from_person: PersonKey,
    /// Merge: the survivor. Split: the new person.
    pub to_person: PersonKey,
    /// Split: the attribute records moved.
    pub records: Vec<String>,
    /// Who did it.
    pub actor: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at: Timestamp,
}

impl PersonEvent {
    /// The event as an audit entry names it: ids and a count.
    fn object(&self) -> String {
        format!(
            "event={} from={} to={} records={}",
            self.id,
            self.from_person,
            self.to_person,
            self.records.len()
        )
    }
}

/// One source's attributes of a person, decrypted for an operator.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AttributeRecord {
    /// The record's id.
    pub id: String,
    /// The provider that sent it.
    pub provider: String,
    /// The person key it is stored under (the person itself, or one merged
    /// into it).
    pub stored_under: PersonKey,
    /// What the provider said.
    pub attributes: IdentifyingAttributes,
    /// The record's link awaits a reviewer: it binds no match token, and
    /// identification and the probabilistic pass ignore it.
    pub in_review: bool,
}

/// A recorded read of a person's attributes, with what was read.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AttributeRead {
    /// The read's id, for the audit entry.
    pub id: String,
    /// The current person read.
    pub person_key: PersonKey,
    /// The records, decrypted.
    pub records: Vec<AttributeRecord>,
}

/// Who read a person's attributes, why and when.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReadRecord {
    /// The read's id.
    pub id: String,
    /// Who read.
    pub actor: String,
    /// The reason they stated.
    pub reason: String,
    /// How many records they saw.
    pub records: u64,
    /// When.
    pub at: Timestamp,
}

/// A non-empty reason for a curation step or an attribute read.
fn check_reason(reason: &str) -> Result<()> {
    if reason.trim().is_empty() {
        return Err(Error::Invalid(
            "a reason is required: say why (it is kept with the audit entry)".to_owned(),
        ));
    }
    Ok(())
}

impl PersonIndex {
    async fn lock(&self, tx: &mut sqlx::Transaction<'static, sqlx::Any>) -> Result<()> {
        if self.db().backend() == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(RESOLVE_LOCK_KEY)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// The person a key names now: itself, or the survivor it was merged
    /// into. Fails with [`Error::UnknownPerson`] for a key never issued.
    pub async fn current(&self, person: &PersonKey) -> Result<PersonKey> {
        let mut conn = self.db().pool().acquire().await?;
        current_in(&mut conn, person).await
    }

    /// Merges `from` into `into`: every token of `from` names `into` from now
    /// on and `from` resolves to `into`. Both must be current persons.
    pub async fn merge(
        &self,
        from: &PersonKey,
        into: &PersonKey,
        by: &Actor,
        reason: &str,
    ) -> Result<PersonEvent> {
        check_reason(reason)?;
        let mut tx = self.db().begin_write().await?;
        self.lock(&mut tx).await?;
        let event = self
            .merge_in(&mut tx, from, into, &label(by), reason)
            .await?;
        self.log(by, "identity.merge", event.object()).await?;
        tx.commit().await?;
        let _ = self.changes.send(());
        Ok(event)
    }

    pub(crate) async fn merge_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        from: &PersonKey,
        into: &PersonKey,
        actor: &str,
        reason: &str,
    ) -> Result<PersonEvent> {
        for p in [from, into] {
            let now = current_in(tx, p).await?;
            if now != *p {
                return Err(Error::Conflict(format!(
                    "person {p} was merged into {now}: merge {now} instead"
                )));
            }
        }
        if from == into {
            return Err(Error::Invalid(format!(
                "cannot merge person {from} into itself"
            )));
        }
        for text in [
            "UPDATE persons SET merged_into = $1 WHERE merged_into = $2",
            "UPDATE persons SET merged_into = $1 WHERE person_key = $2",
            "UPDATE match_tokens SET person_key = $1 WHERE person_key = $2",
        ] {
            sqlx::query(text)
                .bind(into.to_string())
                .bind(from.to_string())
                .execute(&mut **tx)
                .await?;
        }
        self.record_event(tx, "merge", from, into, Vec::new(), actor, reason)
            .await
    }

    /// Splits `records` (attribute record ids, all of one current person)
    /// off into a new person, with the match tokens only they produce.
    pub async fn split(&self, records: &[String], by: &Actor, reason: &str) -> Result<PersonEvent> {
        check_reason(reason)?;
        let mut tx = self.db().begin_write().await?;
        self.lock(&mut tx).await?;
        let event = self.split_in(&mut tx, records, &label(by), reason).await?;
        self.log(by, "identity.split", event.object()).await?;
        tx.commit().await?;
        let _ = self.changes.send(());
        Ok(event)
    }

    /// Appends a curation step's entry: called inside the step's
    /// transaction, before its commit, so a step the log refuses is rolled
    /// back (issue 15, finding 8). Entries hold ids and counts; the stated
    /// reason stays in identity's own event table.
    async fn log(&self, by: &Actor, action: &str, object: String) -> Result<()> {
        self.audit()
            .append(AuditEvent::success(
                self.clock().now(),
                by.clone(),
                action,
                object,
            ))
            .await
            .map_err(Error::Audit)?;
        Ok(())
    }

    async fn split_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        records: &[String],
        actor: &str,
        reason: &str,
    ) -> Result<PersonEvent> {
        let moving: BTreeSet<&str> = records.iter().map(String::as_str).collect();
        if moving.is_empty() {
            return Err(Error::Invalid(
                "name at least one record to split off".to_owned(),
            ));
        }
        // The person of the first record; every record must share it.
        let first = moving.iter().next().expect("not empty");
        let stored: String =
            sqlx::query_scalar("SELECT person_key FROM attribute_records WHERE id = $1")
                .bind(*first)
                .fetch_optional(&mut **tx)
                .await?
                .ok_or_else(|| Error::NotFound(format!("attribute record {first}")))?;
        let person = current_in(tx, &parse_key(&stored)?).await?;
        let all = self.records_of(tx, &person).await?;
        for id in &moving {
            if !all.iter().any(|r| r.id == *id) {
                return Err(Error::Conflict(format!(
                    "record {id} does not belong to person {person}"
                )));
            }
        }
        if all.len() == moving.len() {
            return Err(Error::Conflict(format!(
                "these are all the records of person {person}: nothing would be left"
            )));
        }
        let new_person = PersonKey::generate();
        let now = self.clock().now().unix_micros();
        sqlx::query("INSERT INTO persons (person_key, created_us) VALUES ($1, $2)")
            .bind(new_person.to_string())
            .bind(now)
            .execute(&mut **tx)
            .await?;
        // Tokens of the records that stay keep their person.
        let mut staying: HashSet<(TokenKind, [u8; 32])> = HashSet::new();
        let mut leaving: HashSet<(TokenKind, [u8; 32])> = HashSet::new();
        for r in &all {
            let provider = ProviderCode::parse(&r.provider)
                .map_err(|e| Error::Corrupt(format!("record {}: provider code: {e}", r.id)))?;
            let tokens = self.tokens_of(&provider, &r.attributes);
            if moving.contains(r.id.as_str()) {
                leaving.extend(tokens);
            } else if !r.in_review {
                // A record awaiting review holds no token, so it cannot
                // keep one with the person either.
                staying.extend(tokens);
            }
        }
        for (kind, token) in leaving.difference(&staying) {
            sqlx::query(
                "UPDATE match_tokens SET person_key = $1 WHERE kind = $2 AND token = $3 AND person_key = $4",
            )
            .bind(new_person.to_string())
            .bind(kind.as_str())
            .bind(token.to_vec())
            .bind(person.to_string())
            .execute(&mut **tx)
            .await?;
        }
        // Re-encrypted: a ciphertext is bound to its person.
        for r in all.iter().filter(|r| moving.contains(r.id.as_str())) {
            let plaintext =
                serde_json::to_vec(&r.attributes).map_err(|e| Error::Corrupt(e.to_string()))?;
            let sealed = self
                .vault()
                .seal(&plaintext, context(&r.id, &new_person).as_bytes());
            sqlx::query(
                "UPDATE attribute_records SET person_key = $1, nonce = $2, ciphertext = $3 WHERE id = $4",
            )
            .bind(new_person.to_string())
            .bind(sealed.nonce.to_vec())
            .bind(sealed.ciphertext.as_slice())
            .bind(r.id.as_str())
            .execute(&mut **tx)
            .await?;
        }
        self.record_event(
            tx,
            "split",
            &person,
            &new_person,
            moving.iter().map(|s| (*s).to_owned()).collect(),
            actor,
            reason,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn record_event(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        kind: &'static str,
        from: &PersonKey,
        to: &PersonKey,
        records: Vec<String>,
        actor: &str,
        reason: &str,
    ) -> Result<PersonEvent> {
        let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM person_events")
            .fetch_one(&mut **tx)
            .await?;
        let at = self.clock().now();
        let event = PersonEvent {
            seq,
            id: uuid::Uuid::now_v7().to_string(),
            kind,
            from_person: *from,
            to_person: *to,
            records,
            actor: actor.to_owned(),
            reason: reason.trim().to_owned(),
            at,
        };
        sqlx::query(
            "INSERT INTO person_events (seq, id, kind, from_person, to_person, records, actor, reason, at_us) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(event.seq)
        .bind(event.id.as_str())
        .bind(kind)
        .bind(from.to_string())
        .bind(to.to_string())
        .bind(serde_json::to_string(&event.records).map_err(|e| Error::Corrupt(e.to_string()))?)
        .bind(actor)
        .bind(event.reason.as_str())
        .bind(at.unix_micros())
        .execute(&mut **tx)
        .await?;
        tracing::info!(kind, seq, "person index curated");
        Ok(event)
    }

    /// Merges and splits after `seq` (all from 0), in order.
    pub async fn events_since(&self, seq: i64) -> Result<Vec<PersonEvent>> {
        let rows = sqlx::query(
            "SELECT seq, id, kind, from_person, to_person, records, actor, reason, at_us \
             FROM person_events WHERE seq > $1 ORDER BY seq",
        )
        .bind(seq)
        .fetch_all(self.db().pool())
        .await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind")?;
                let records: String = r.try_get("records")?;
                Ok(PersonEvent {
                    seq: r.try_get("seq")?,
                    id: r.try_get("id")?,
                    kind: if kind == "merge" { "merge" } else { "split" },
                    from_person: parse_key(&r.try_get::<String, _>("from_person")?)?,
                    to_person: parse_key(&r.try_get::<String, _>("to_person")?)?,
                    records: serde_json::from_str(&records)
                        .map_err(|e| Error::Corrupt(format!("event records: {e}")))?,
                    actor: r.try_get("actor")?,
                    reason: r.try_get("reason")?,
                    at: Timestamp::from_unix_micros(r.try_get("at_us")?),
                })
            })
            .collect()
    }

    /// The attribute records of a current person (and of every person merged
    /// into it), decrypted, for `actor` who states `reason`. The read is
    /// recorded (who, why, how many records) before the values are
    /// returned; the caller's audit entry names it by [`AttributeRead::id`].
    pub async fn attributes_of(
        &self,
        person: &PersonKey,
        actor: &str,
        reason: &str,
    ) -> Result<AttributeRead> {
        check_reason(reason)?;
        let mut conn = self.db().pool().acquire().await?;
        let person = current_in(&mut conn, person).await?;
        let records = self.records_of(&mut conn, &person).await?;
        drop(conn);
        let id = uuid::Uuid::now_v7().to_string();
        sqlx::query(
            "INSERT INTO attribute_reads (id, person_key, actor, reason, records, at_us) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.as_str())
        .bind(person.to_string())
        .bind(actor)
        .bind(reason.trim())
        .bind(records.len() as i64)
        .bind(self.clock().now().unix_micros())
        .execute(self.db().pool())
        .await?;
        Ok(AttributeRead {
            id,
            person_key: person,
            records,
        })
    }

    /// The recorded reads of a person's attributes, oldest first: who read,
    /// why and when (for auditors and for the person's own inquiry).
    pub async fn attribute_reads(&self, person: &PersonKey) -> Result<Vec<ReadRecord>> {
        let rows = sqlx::query(
            "SELECT id, actor, reason, records, at_us FROM attribute_reads \
             WHERE person_key = $1 ORDER BY at_us, id",
        )
        .bind(person.to_string())
        .fetch_all(self.db().pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ReadRecord {
                    id: r.try_get("id")?,
                    actor: r.try_get("actor")?,
                    reason: r.try_get("reason")?,
                    records: u64::try_from(r.try_get::<i64, _>("records")?).unwrap_or(0),
                    at: Timestamp::from_unix_micros(r.try_get("at_us")?),
                })
            })
            .collect()
    }

    pub(crate) async fn records_of(
        &self,
        conn: &mut sqlx::AnyConnection,
        person: &PersonKey,
    ) -> Result<Vec<AttributeRecord>> {
        let rows = sqlx::query(
            "SELECT id, person_key, provider_code, nonce, ciphertext, link_state FROM attribute_records \
             WHERE person_key = $1 OR person_key IN (SELECT person_key FROM persons WHERE merged_into = $1) \
             ORDER BY created_us, id",
        )
        .bind(person.to_string())
        .fetch_all(&mut *conn)
        .await?;
        rows.iter().map(|r| self.decrypt_row(r)).collect()
    }

    /// One `attribute_records` row (id, person_key, provider_code, nonce,
    /// ciphertext, link_state), decrypted.
    pub(crate) fn decrypt_row(&self, r: &sqlx::any::AnyRow) -> Result<AttributeRecord> {
        let id: String = r.try_get("id")?;
        let stored = parse_key(&r.try_get::<String, _>("person_key")?)?;
        let nonce: Vec<u8> = r.try_get("nonce")?;
        let sealed = Sealed {
            nonce: nonce
                .try_into()
                .map_err(|_| Error::Corrupt(format!("record {id}: nonce")))?,
            ciphertext: r.try_get("ciphertext")?,
        };
        let plaintext = self
            .vault()
            .open(&sealed, context(&id, &stored).as_bytes())
            .ok_or_else(|| Error::Decrypt { record: id.clone() })?;
        let attributes = serde_json::from_slice(&plaintext)
            .map_err(|e| Error::Corrupt(format!("record {id}: {e}")))?;
        let state = LinkState::parse(&r.try_get::<String, _>("link_state")?)?;
        Ok(AttributeRecord {
            provider: r.try_get("provider_code")?,
            id,
            stored_under: stored,
            attributes,
            in_review: state == LinkState::InReview,
        })
    }

    /// The review items in `state` (open ones when `None`), oldest first.
    pub async fn review_queue(&self, open_only: bool, limit: u32) -> Result<Vec<ReviewItem>> {
        let text = if open_only {
            "SELECT id, record_id, person_key, other_person, score, reason, state, created_us \
             FROM review_queue WHERE state = 'open' ORDER BY created_us, id LIMIT $1"
        } else {
            "SELECT id, record_id, person_key, other_person, score, reason, state, created_us \
             FROM review_queue ORDER BY created_us, id LIMIT $1"
        };
        let rows = sqlx::query(text)
            .bind(i64::from(limit))
            .fetch_all(self.db().pool())
            .await?;
        rows.iter().map(review_item).collect()
    }

    /// One review item.
    pub async fn review_item(&self, id: &str) -> Result<ReviewItem> {
        let row = sqlx::query(
            "SELECT id, record_id, person_key, other_person, score, reason, state, created_us \
             FROM review_queue WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.db().pool())
        .await?
        .ok_or_else(|| Error::NotFound(format!("review item {id}")))?;
        review_item(&row)
    }

    /// Decides an open review item. For a queued link, `Same` trusts the
    /// record under its person and `Different` splits it off into a new
    /// person (returning the event); either way its tokens that name
    /// nobody yet then name its person. For a probabilistic item, `Same`
    /// merges the two persons.
    pub async fn decide(
        &self,
        id: &str,
        decision: Decision,
        by: &Actor,
        reason: &str,
    ) -> Result<Option<PersonEvent>> {
        check_reason(reason)?;
        let actor = label(by);
        let actor = actor.as_str();
        let mut tx = self.db().begin_write().await?;
        self.lock(&mut tx).await?;
        let row = sqlx::query("SELECT record_id, state, reason, person_key, other_person FROM review_queue WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| Error::NotFound(format!("review item {id}")))?;
        let state: String = row.try_get("state")?;
        if state != "open" {
            return Err(Error::Conflict(format!(
                "review item {id} was already decided ({state})"
            )));
        }
        let record: String = row.try_get("record_id")?;
        let kind: String = row.try_get("reason")?;
        let pair = [ReviewReason::Probabilistic, ReviewReason::ConcurrentLink]
            .iter()
            .any(|r| r.as_str() == kind);
        let event = if pair {
            match decision {
                Decision::Same => {
                    let person = parse_key(&row.try_get::<String, _>("person_key")?)?;
                    let other: Option<String> = row.try_get("other_person")?;
                    let other = parse_key(&other.ok_or_else(|| {
                        Error::Corrupt(format!("review item {id} has no other person"))
                    })?)?;
                    let (a, b) = (
                        current_in(&mut tx, &person).await?,
                        current_in(&mut tx, &other).await?,
                    );
                    if a == b {
                        None
                    } else {
                        Some(self.merge_in(&mut tx, &b, &a, actor, reason).await?)
                    }
                }
                Decision::Different => None,
            }
        } else {
            let event = match decision {
                Decision::Same => None,
                Decision::Different => Some(
                    self.split_in(&mut tx, std::slice::from_ref(&record), actor, reason)
                        .await?,
                ),
            };
            self.trust_record(&mut tx, &record).await?;
            event
        };
        sqlx::query(
            "UPDATE review_queue SET state = $1, decided_by = $2, decision_reason = $3, decided_us = $4 \
             WHERE id = $5",
        )
        .bind(match decision {
            Decision::Same => "same",
            Decision::Different => "different",
        })
        .bind(actor)
        .bind(reason.trim())
        .bind(self.clock().now().unix_micros())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let decided = match decision {
            Decision::Same => "same",
            Decision::Different => "different",
        };
        let object = match &event {
            Some(e) => format!("item={id} decision={decided} {}", e.object()),
            None => format!("item={id} decision={decided}"),
        };
        self.log(by, "identity.decide", object).await?;
        tx.commit().await?;
        if event.is_some() {
            let _ = self.changes.send(());
        }
        Ok(event)
    }
}

/// How identity's own tables name who acted: `operator:<user name>`, or
/// `system:<component>` for the platform.
pub fn label(by: &Actor) -> String {
    match by {
        Actor::User { username, role, .. } => format!("{}:{username}", role.as_str()),
        Actor::Patient { person_key } => format!("patient:{person_key}"),
        Actor::Anonymous => "anonymous".to_owned(),
        Actor::System { component } => format!("system:{component}"),
    }
}

impl PersonIndex {
    /// A reviewer accepted the link of `record` (to its person, or to the
    /// new person a split gave it): it is trusted, and its tokens that
    /// name nobody yet name its person. Tokens another person holds stay
    /// theirs: a token, once given, keeps its person.
    async fn trust_record(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        record: &str,
    ) -> Result<()> {
        let row = sqlx::query(
            "SELECT id, person_key, provider_code, nonce, ciphertext, link_state \
             FROM attribute_records WHERE id = $1",
        )
        .bind(record)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| Error::NotFound(format!("attribute record {record}")))?;
        let r = self.decrypt_row(&row)?;
        let person = current_in(tx, &r.stored_under).await?;
        let provider = ProviderCode::parse(&r.provider)
            .map_err(|e| Error::Corrupt(format!("record {}: provider code: {e}", r.id)))?;
        let tokens = self.tokens_of(&provider, &r.attributes);
        let values: Vec<[u8; 32]> = tokens.iter().map(|(_, t)| *t).collect();
        let mut holders = known_holders(tx, &values).await?;
        let new_tokens: Vec<_> = bind_vacant(&mut holders, &tokens, person)
            .into_iter()
            .map(|(kind, t)| (kind, t, person))
            .collect();
        insert_tokens(tx, &new_tokens, self.clock().now().unix_micros()).await?;
        sqlx::query("UPDATE attribute_records SET link_state = $1 WHERE id = $2")
            .bind(LinkState::Linked.as_str())
            .bind(record)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

fn review_item(r: &sqlx::any::AnyRow) -> Result<ReviewItem> {
    let reason: String = r.try_get("reason")?;
    let state: String = r.try_get("state")?;
    Ok(ReviewItem {
        id: r.try_get("id")?,
        record_id: r.try_get("record_id")?,
        person_key: parse_key(&r.try_get::<String, _>("person_key")?)?,
        other_person: r
            .try_get::<Option<String>, _>("other_person")?
            .map(|k| parse_key(&k))
            .transpose()?,
        score: r.try_get("score")?,
        reason: ReviewReason::parse(&reason)
            .ok_or_else(|| Error::Corrupt(format!("unknown review reason {reason:?}")))?,
        state: match state.as_str() {
            "open" => ReviewState::Open,
            "same" => ReviewState::Same,
            "different" => ReviewState::Different,
            other => return Err(Error::Corrupt(format!("unknown review state {other:?}"))),
        },
        created_at: Timestamp::from_unix_micros(r.try_get("created_us")?),
    })
}

/// The current person of `person` (following a merge), on `conn`.
pub(crate) async fn current_in(
    conn: &mut sqlx::AnyConnection,
    person: &PersonKey,
) -> Result<PersonKey> {
    let row = sqlx::query("SELECT merged_into FROM persons WHERE person_key = $1")
        .bind(person.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| Error::UnknownPerson(person.to_string()))?;
    let merged: Option<String> = row.try_get("merged_into")?;
    match merged {
        // Merges flatten chains, so one step is the survivor.
        Some(survivor) => parse_key(&survivor),
        None => Ok(*person),
    }
}

/// Maps old person keys onto current ones by replaying `events` (in
/// order) — what a reader of the lake applies to rows keyed before a merge.
pub fn key_map(events: &[PersonEvent]) -> HashMap<PersonKey, PersonKey> {
    let mut map: HashMap<PersonKey, PersonKey> = HashMap::new();
    for e in events.iter().filter(|e| e.kind == "merge") {
        for target in map.values_mut() {
            if *target == e.from_person {
                *target = e.to_person;
            }
        }
        map.insert(e.from_person, e.to_person);
    }
    map
}
