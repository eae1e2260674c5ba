//! Release of outputs (成果物の持ち出し): the only way a result leaves a
//! workspace.
//!
//! A researcher does not hand in numbers. They name a query of the
//! workspace whose rows carry the person's pseudonym and the dimensions of
//! the table (and, for a magnitude table, a value), and the workspace
//! computes the cells itself — distinct persons per cell, sums with their
//! largest per-person contributions, the margins when asked — so the check
//! never trusts a number typed in. The table is checked at once under the
//! permit's [`Rules`] and against everything released earlier under the
//! same permit ([`crate::disclosure::check`]); every suppression is
//! explained. A reviewer then releases or refuses it with reasons. Release
//! checks the table again, against the releases approved in the meantime,
//! so two requests pending together cannot be differenced against each
//! other. Only the released table — suppressed cells as `X`, no value —
//! is ever shown outside the workspace.
//!
//! States: `pending` → `released` | `refused`; nothing else changes.

mod compute;
mod request;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use renkei_core::{Actor, AuditEvent, Outcome, PermitId, Timestamp};
use renkei_store::Backend;
use serde::{Deserialize, Serialize};

pub use compute::{MAX_PERSON_ROWS, MISSING, OTHER};

/// Who reads an output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader<'a> {
    /// A reviewer, who checks outputs of every permit.
    Reviewer,
    /// A user, by account name.
    User(&'a str),
}
pub use request::{
    Bin, Dimension, MAX_CELLS, MAX_DIMENSIONS, MAX_LABEL_CHARS, OutputRequest, PrivacyRequest,
};

use crate::disclosure::dp::{Accountant, Epsilon};
use crate::disclosure::{
    self, Budget, CellTable, EarlierRelease, Key, Membership, Published, ReleaseId, ReleasedTable,
    Rules,
};
use crate::workspace::Workspace;
use crate::{Environment, Error, Result};
use compute::Computed;
use request::validate;

/// How long one output's check (secondary suppression, the LP audit,
/// differencing) may run before the output is refused as too large.
pub const CHECK_SECONDS: u64 = 20;
/// The largest dense table (every combination, totals and empty cells
/// included) that is checked at all.
pub const MAX_DENSE_CELLS: usize = 10_000;

/// An output's number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OutputId(i64);

impl OutputId {
    /// Parses the number in a path.
    pub fn parse(text: &str) -> Result<Self> {
        text.parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(OutputId)
            .ok_or_else(|| Error::Invalid(format!("output id: {text:?} is not an output number")))
    }

    /// The number.
    pub fn get(self) -> i64 {
        self.0
    }

    fn release_id(self) -> ReleaseId {
        ReleaseId::parse(&format!("output-{}", self.0)).expect("a short printable id")
    }
}

impl fmt::Display for OutputId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where an output stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputStatus {
    /// Checked automatically, waiting for a reviewer.
    Pending,
    /// Released by a reviewer: downloadable and on the public register.
    Released,
    /// Refused by a reviewer, with reasons.
    Refused,
}

impl OutputStatus {
    fn as_str(self) -> &'static str {
        match self {
            OutputStatus::Pending => "pending",
            OutputStatus::Released => "released",
            OutputStatus::Refused => "refused",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        match text {
            "pending" => Ok(OutputStatus::Pending),
            "released" => Ok(OutputStatus::Released),
            "refused" => Ok(OutputStatus::Refused),
            other => Err(Error::Corrupt(format!("output status {other:?}"))),
        }
    }

    /// The status in Japanese, as the pages show it.
    pub fn label_ja(self) -> &'static str {
        match self {
            OutputStatus::Pending => "審査待ち",
            OutputStatus::Released => "公開済み",
            OutputStatus::Refused => "不承認",
        }
    }
}

/// One cell as the check decided it, with its true value: for the
/// researcher and the reviewer inside the platform, never for release.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckedCell {
    /// The cell's key, one part per dimension (`*` for a total).
    pub key: Vec<String>,
    /// Distinct persons.
    pub persons: u64,
    /// The sum, for magnitude tables.
    pub sum: Option<f64>,
    /// Whether it may be released.
    pub released: bool,
    /// Why not, in Japanese.
    pub why_ja: Option<String>,
    /// Why not, in English.
    pub why_en: Option<String>,
}

/// The automatic check of an output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// The dimensions.
    pub dimensions: Vec<String>,
    /// Every cell of the dense table.
    pub cells: Vec<CheckedCell>,
    /// Cells suppressed.
    pub suppressed: usize,
    /// Whether the independent audit found the released table safe (if
    /// not, every cell is withheld).
    pub audit_holds: bool,
    /// Earlier releases of the permit it was checked against.
    pub compared_with: usize,
    /// For a noisy release: the ε it spends. Its cells are then the true
    /// counts over the listed categories, none suppressed; noise is drawn
    /// when a reviewer releases it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noisy: Option<Epsilon>,
    /// Persons with more than one combination of values in the table, each
    /// counted once under their most frequent.
    #[serde(default)]
    pub several_values: u64,
    /// Categories too rare (or too long) to show, counted as その他.
    #[serde(default)]
    pub recoded: u64,
}

impl Check {
    fn of(decision: &disclosure::Decision, compared_with: usize) -> Self {
        let dims = decision.dimensions().to_vec();
        let cells: Vec<CheckedCell> = decision
            .cells()
            .iter()
            .map(|c| {
                let why = match &c.outcome {
                    disclosure::Outcome::Released => None,
                    disclosure::Outcome::Suppressed { reason } => Some(reason.explain(&dims)),
                };
                CheckedCell {
                    key: c.key.parts().iter().map(ToString::to_string).collect(),
                    persons: c.persons,
                    sum: c.sum,
                    released: why.is_none(),
                    why_ja: why.as_ref().map(|w| w.ja.clone()),
                    why_en: why.map(|w| w.en),
                }
            })
            .collect();
        Check {
            suppressed: cells.iter().filter(|c| !c.released).count(),
            dimensions: dims,
            cells,
            audit_holds: decision.audit().holds(),
            compared_with,
            noisy: None,
            several_values: 0,
            recoded: 0,
        }
    }

    /// The check of a noisy release: nothing is suppressed, since noise,
    /// not suppression, protects its cells; the budget is what is checked.
    fn noisy(table: &CellTable, epsilon: Epsilon) -> Self {
        let cells: Vec<CheckedCell> = table
            .cells()
            .iter()
            .map(|c| CheckedCell {
                key: c.key.parts().iter().map(ToString::to_string).collect(),
                persons: c.persons,
                sum: None,
                released: true,
                why_ja: None,
                why_en: None,
            })
            .collect();
        Check {
            dimensions: table.dimensions().to_vec(),
            cells,
            suppressed: 0,
            audit_holds: true,
            compared_with: 0,
            noisy: Some(epsilon),
            several_values: 0,
            recoded: 0,
        }
    }
}

/// An output and where it stands.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Output {
    /// Its number.
    pub id: OutputId,
    /// The permit it was made under.
    pub permit: PermitId,
    /// Its title.
    pub title: String,
    /// Who asked.
    pub requested_by: String,
    /// When.
    pub requested_at: Timestamp,
    /// What was asked.
    pub request: OutputRequest,
    /// The automatic check (at request time; at release, the check the
    /// release was made on).
    pub check: Check,
    /// Where it stands.
    pub status: OutputStatus,
    /// The reviewer who decided.
    pub reviewer: Option<String>,
    /// When.
    pub decided_at: Option<Timestamp>,
    /// The reviewer's reasons.
    pub reason: Option<String>,
    /// What left, once released.
    pub released: Option<ReleasedTable>,
}

impl Output {
    /// The released table as CSV (UTF-8, a header of the dimensions and
    /// `persons` (and `sum`); suppressed values as `X`, totals as `*`);
    /// `None` before release.
    pub fn csv(&self) -> Option<String> {
        self.released.as_ref().map(released_csv)
    }
}

/// The released table as CSV.
pub fn released_csv(table: &ReleasedTable) -> String {
    let has_sums = table
        .cells()
        .iter()
        .any(|c| matches!(c.value, Published::Value { sum: Some(_), .. }));
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = table.dimensions().to_vec();
    header.push("persons".to_owned());
    if has_sums {
        header.push("sum".to_owned());
    }
    // Writing to a Vec cannot fail; the results are kept for clippy's sake.
    let _ = w.write_record(&header);
    for cell in table.cells() {
        let mut row: Vec<String> = cell
            .key
            .parts()
            .iter()
            .map(|k| spreadsheet_safe(&k.to_string()))
            .collect();
        match cell.value {
            Published::Value { persons, sum } => {
                row.push(persons.to_string());
                if has_sums {
                    row.push(sum.map(|s| s.to_string()).unwrap_or_default());
                }
            }
            Published::Suppressed => {
                row.push("X".to_owned());
                if has_sums {
                    row.push("X".to_owned());
                }
            }
        }
        let _ = w.write_record(&row);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// Category values come from the data; one that starts like a formula
/// would run as one in a spreadsheet (CSV injection), so it is prefixed.
/// The starting characters are OWASP's list ("CSV Injection"): `=`, `+`,
/// `-`, `@`, and TAB and CR, which spreadsheets skip before reading a
/// formula. A plain number (`-5`) stays as it is.
fn spreadsheet_safe(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) && value.parse::<f64>().is_err() {
        format!("'{value}")
    } else {
        value.to_owned()
    }
}

/// id, permit, title, by, at, request, cells, check, status, reviewer,
/// decided, reason, released.
type OutputRow = (
    i64,
    String,
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

const COLUMNS: &str = "id, permit_id, title, requested_by, requested_us, request_json, cells_json, check_json, status, reviewer, decided_us, reason, released_json";

fn output_of(row: OutputRow) -> Result<(Output, CellTable)> {
    let (id, permit, title, by, at, request, cells, check, status, reviewer, decided, reason, rel) =
        row;
    let corrupt =
        |what: &str, e: serde_json::Error| Error::Corrupt(format!("output {id} {what}: {e}"));
    let permit =
        PermitId::parse(&permit).map_err(|e| Error::Corrupt(format!("output {id} permit: {e}")))?;
    let output = Output {
        id: OutputId(id),
        permit,
        title,
        requested_by: by,
        requested_at: Timestamp::from_unix_micros(at),
        request: request::stored(&request).map_err(|e| corrupt("request", e))?,
        check: serde_json::from_str(&check).map_err(|e| corrupt("check", e))?,
        status: OutputStatus::parse(&status)?,
        reviewer,
        decided_at: decided.map(Timestamp::from_unix_micros),
        reason,
        released: rel
            .map(|r| serde_json::from_str(&r))
            .transpose()
            .map_err(|e| corrupt("released table", e))?,
    };
    let cells = serde_json::from_str(&cells).map_err(|e| corrupt("cells", e))?;
    Ok((output, cells))
}

impl Environment {
    /// Proposes an output from `workspace`: computes its cells from the
    /// data, checks them under `rules` against the permit's earlier
    /// releases, and records it as pending, audited. A request the
    /// workspace cannot turn into a table (a missing column, a person in
    /// two categories of a table with margins, too many cells) is refused
    /// with the reason.
    pub async fn propose(
        &self,
        workspace: &Workspace,
        username: &str,
        actor: Actor,
        request: OutputRequest,
        rules: &Rules,
    ) -> Result<Output> {
        validate(&request)?;
        // One proposal of a permit at a time: each costs a scan of the
        // extract and a check, and a researcher cannot queue a hundred.
        let _turn = self.proposal_turn(workspace.permit())?;
        let (table, check) = match &request.privacy {
            Some(privacy) => {
                // Refused now if the budget cannot pay for it; spent only
                // when a reviewer releases it.
                let left = self.dp_accountant(workspace.permit(), rules).await?;
                if privacy.epsilon > left.remaining() {
                    return Err(Error::Invalid(format!(
                        "privacy.epsilon: ε = {} asked, ε = {} left of the permit's budget of {}",
                        privacy.epsilon,
                        left.remaining(),
                        left.budget()
                    )));
                }
                // Each real person in one listed cell at most: one person
                // moves one count, which is what the noise is calibrated to.
                let computed =
                    compute::compute(workspace, &request, rules, Some(&privacy.categories)).await?;
                let table = listed_table(&computed.table, &request, privacy)?
                    .with_members(computed.table.members().cloned().unwrap_or_default());
                let mut check = Check::noisy(&table, privacy.epsilon);
                check.several_values = computed.several_values;
                (table, check)
            }
            None => {
                let Computed {
                    table,
                    several_values,
                    recoded,
                } = compute::compute(workspace, &request, rules, None).await?;
                let mut conn = self.db.pool().acquire().await?;
                let earlier = Self::earlier_releases(&mut conn, workspace.permit(), None).await?;
                drop(conn);
                let compared = earlier.len();
                let (table, decision) = self.checked(table, rules, earlier).await?;
                let mut check = Check::of(&decision, compared);
                check.several_values = several_values;
                check.recoded = recoded;
                (table, check)
            }
        };
        let now = self.clock.now();
        // Numbered, recorded, logged, then committed: two requests at once
        // cannot take one number, and one that fails logs nothing.
        let mut tx = self.db.begin_write().await?;
        let max: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM outputs")
            .fetch_one(&mut *tx)
            .await?;
        let id = OutputId(max.unwrap_or(0) + 1);
        sqlx::query(&format!(
            "INSERT INTO outputs ({COLUMNS}, members) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', NULL, NULL, NULL, NULL, $9)"
        ))
        .bind(id.0)
        .bind(workspace.permit().to_string())
        .bind(request.title.trim())
        .bind(username)
        .bind(now.unix_micros())
        .bind(to_json(&request)?)
        .bind(to_json(&table)?)
        .bind(to_json(&check)?)
        .bind(table.members().map(Membership::to_bytes))
        .execute(&mut *tx)
        .await?;
        self.audited(
            actor,
            "analysis.output.request",
            format!(
                "permit={} output={id} cells={} suppressed={}",
                workspace.permit(),
                check.cells.len(),
                check.suppressed
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(Output {
            id,
            permit: workspace.permit(),
            title: request.title.trim().to_owned(),
            requested_by: username.to_owned(),
            requested_at: now,
            request,
            check,
            status: OutputStatus::Pending,
            reviewer: None,
            decided_at: None,
            reason: None,
            released: None,
        })
    }

    /// Output `id` as `reader` may see it: a reviewer sees any; a user only
    /// those of permits naming them (anyone else is told it does not
    /// exist, so output numbers cannot be probed), and only while the
    /// permit is in force, since the check shows the true counts
    /// (workspace data, closed with the workspace).
    pub async fn readable_output(&self, id: OutputId, reader: Reader<'_>) -> Result<Output> {
        let output = self.output(id).await?;
        let Reader::User(username) = reader else {
            return Ok(output);
        };
        let (grant, standing) = self.peers.permits.terms(output.permit).await?;
        if !grant.users.iter().any(|u| u == username) {
            return Err(Error::NotFound(format!("output {id}")));
        }
        if standing != renkei_core::Standing::InForce {
            return Err(Error::Conflict(format!(
                "permit {} is not in force: its workspace and its outputs' checks are closed",
                output.permit
            )));
        }
        Ok(output)
    }

    /// A reviewer releases (`release = true`) or refuses a pending output,
    /// with reasons. Release checks the table again against the permit's
    /// releases so far and releases what that check allows; the check
    /// stored with the output is then that one. A decided output is not
    /// decided again.
    pub async fn decide(
        &self,
        id: OutputId,
        reviewer: &str,
        actor: Actor,
        release: bool,
        reason: &str,
        rules: &Rules,
    ) -> Result<Output> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Error::Invalid(
                "reason: a reviewer states the reasons of a decision".to_owned(),
            ));
        }
        let (mut output, table) = self.output_with_cells(id).await?;
        // A reviewer with a declared conflict with the permit's holder, or
        // named on the permit, neither releases nor refuses its outputs;
        // and nothing is released under a permit not in force.
        self.peers
            .permits
            .may_check_outputs(reviewer, output.permit)
            .await
            .map_err(|e| match e.kind {
                renkei_core::ErrorKind::Conflict => Error::Conflict(e.message),
                _ => Error::Peer(e),
            })?;
        if release {
            let standing = self.peers.permits.standing(output.permit).await?;
            if standing != renkei_core::Standing::InForce {
                return Err(Error::Conflict(format!(
                    "permit {} is not in force: nothing is released under it",
                    output.permit
                )));
            }
        }
        let table = match self.members_of(id).await? {
            Some(members) => table.with_members(members),
            None => table,
        };
        if output.status != OutputStatus::Pending {
            return Err(Error::Conflict(format!(
                "output {id} was already {}",
                output.status.as_str()
            )));
        }
        // Decisions on one permit's outputs take turns: a release is
        // checked against every release before it, so two released at
        // once could each miss the other (differencing). SQLite's
        // `BEGIN IMMEDIATE` serializes writers; PostgreSQL locks the
        // permit's outputs.
        let mut tx = self.db.begin_write().await?;
        if self.db.backend() == Backend::Postgres {
            sqlx::query("SELECT id FROM outputs WHERE permit_id = $1 FOR UPDATE")
                .bind(output.permit.to_string())
                .fetch_all(&mut *tx)
                .await?;
        }
        let now = self.clock.now();
        let (status, released) = match (release, &output.request.privacy) {
            (true, Some(privacy)) => {
                // Spent in the decision's transaction, before the noisy
                // table can be seen: a refused decision spends nothing.
                let budget = rules.dp_budget.ok_or_else(no_dp)?;
                let spent: Option<i64> =
                    sqlx::query_scalar("SELECT spent_micros FROM dp_spent WHERE permit_id = $1")
                        .bind(output.permit.to_string())
                        .fetch_optional(&mut *tx)
                        .await?;
                let spent = Epsilon::from_micros(u64::try_from(spent.unwrap_or(0)).unwrap_or(0));
                let mut accountant = Accountant::resume(budget, spent).map_err(privacy_error)?;
                let noisy = disclosure::dp::noisy_table(
                    &mut rand::rngs::OsRng,
                    &mut accountant,
                    &table,
                    privacy.epsilon,
                )
                .map_err(privacy_error)?;
                let spent_micros = i64::try_from(accountant.spent().micros())
                    .map_err(|_| Error::Corrupt("spent ε out of range".to_owned()))?;
                sqlx::query(
                    "INSERT INTO dp_spent (permit_id, spent_micros) VALUES ($1, $2) \
                     ON CONFLICT (permit_id) DO UPDATE SET spent_micros = excluded.spent_micros",
                )
                .bind(output.permit.to_string())
                .bind(spent_micros)
                .execute(&mut *tx)
                .await?;
                (OutputStatus::Released, Some(noisy))
            }
            (true, None) => {
                let earlier = Self::earlier_releases(&mut tx, output.permit, Some(id)).await?;
                let compared = earlier.len();
                let (_, decision) = self.checked(table, rules, earlier).await?;
                let (several_values, recoded) = (output.check.several_values, output.check.recoded);
                output.check = Check::of(&decision, compared);
                output.check.several_values = several_values;
                output.check.recoded = recoded;
                (OutputStatus::Released, Some(decision.into_released()))
            }
            (false, _) => (OutputStatus::Refused, None),
        };
        let released_json = released.as_ref().map(to_json).transpose()?;
        let check_json = to_json(&output.check)?;
        // Only a pending output changes: of two reviewers deciding at once,
        // the second finds nothing to update, and logs nothing.
        let done = sqlx::query(
            "UPDATE outputs SET status = $2, reviewer = $3, decided_us = $4, reason = $5, released_json = $6, check_json = $7 \
             WHERE id = $1 AND status = 'pending'",
        )
        .bind(id.0)
        .bind(status.as_str())
        .bind(reviewer)
        .bind(now.unix_micros())
        .bind(reason)
        .bind(released_json)
        .bind(check_json)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::Conflict(format!(
                "output {id} was decided meanwhile"
            )));
        }
        // Logged before it is visible: a refused entry rolls the decision
        // back.
        self.audited(
            actor,
            if release {
                "analysis.output.release"
            } else {
                "analysis.output.refuse"
            },
            format!("permit={} output={id}", output.permit),
        )
        .await?;
        tx.commit().await?;
        output.status = status;
        output.reviewer = Some(reviewer.to_owned());
        output.decided_at = Some(now);
        output.reason = Some(reason.to_owned());
        output.released = released;
        Ok(output)
    }

    /// One output.
    pub async fn output(&self, id: OutputId) -> Result<Output> {
        Ok(self.output_with_cells(id).await?.0)
    }

    /// A permit's outputs, newest first.
    pub async fn outputs(&self, permit: PermitId) -> Result<Vec<Output>> {
        self.outputs_where("permit_id = $1", &permit.to_string())
            .await
    }

    /// Outputs waiting for a reviewer, oldest first.
    pub async fn pending_outputs(&self) -> Result<Vec<Output>> {
        let mut all = self.outputs_where("status = $1", "pending").await?;
        all.reverse();
        Ok(all)
    }

    /// Every released output, newest first: the public register's list.
    pub async fn released_outputs(&self) -> Result<Vec<Output>> {
        self.outputs_where("status = $1", "released").await
    }

    async fn outputs_where(&self, filter: &str, value: &str) -> Result<Vec<Output>> {
        let mut conn = self.db.pool().acquire().await?;
        outputs_where_in(&mut conn, filter, value).await
    }

    async fn output_with_cells(&self, id: OutputId) -> Result<(Output, CellTable)> {
        let row: Option<OutputRow> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM outputs WHERE id = $1"))
                .bind(id.0)
                .fetch_optional(self.db.pool())
                .await?;
        output_of(row.ok_or_else(|| Error::NotFound(format!("output {id}")))?)
    }

    /// The permit's differential-privacy budget and what its released
    /// noisy tables have spent of it.
    pub async fn dp_accountant(&self, permit: PermitId, rules: &Rules) -> Result<Accountant> {
        let budget = rules.dp_budget.ok_or_else(no_dp)?;
        let spent: Option<i64> =
            sqlx::query_scalar("SELECT spent_micros FROM dp_spent WHERE permit_id = $1")
                .bind(permit.to_string())
                .fetch_optional(self.db.pool())
                .await?;
        let spent = Epsilon::from_micros(u64::try_from(spent.unwrap_or(0)).unwrap_or(0));
        Accountant::resume(budget, spent).map_err(privacy_error)
    }

    /// The permit's released outputs but `except`, read on `conn` (a
    /// decision's own transaction, which holds the permit's lock).
    async fn earlier_releases(
        conn: &mut sqlx::AnyConnection,
        permit: PermitId,
        except: Option<OutputId>,
    ) -> Result<Vec<EarlierRelease>> {
        let members: Vec<(i64, Option<Vec<u8>>)> = sqlx::query_as(
            "SELECT id, members FROM outputs WHERE status = 'released' AND permit_id = $1",
        )
        .bind(permit.to_string())
        .fetch_all(&mut *conn)
        .await?;
        let mut members: HashMap<i64, Vec<u8>> = members
            .into_iter()
            .filter_map(|(id, m)| m.map(|m| (id, m)))
            .collect();
        let mut earlier = Vec::new();
        for o in outputs_where_in(
            conn,
            "status = 'released' AND permit_id = $1",
            &permit.to_string(),
        )
        .await?
        {
            // A noisy table tells nothing exact to subtract from: what it
            // says of a person is bounded by its ε, whatever comes after.
            if Some(o.id) == except || o.check.noisy.is_some() {
                continue;
            }
            let Some(table) = o.released else { continue };
            let members = members
                .remove(&o.id.get())
                .map(|bytes| {
                    Membership::from_bytes(&bytes)
                        .map_err(|e| Error::Corrupt(format!("output {} persons: {e}", o.id)))
                })
                .transpose()?;
            earlier.push(EarlierRelease {
                id: o.id.release_id(),
                table,
                members,
            });
        }
        Ok(earlier)
    }

    /// The persons of an output's interior cells, if it has them.
    async fn members_of(&self, id: OutputId) -> Result<Option<Membership>> {
        let bytes: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT members FROM outputs WHERE id = $1")
                .bind(id.0)
                .fetch_optional(self.db.pool())
                .await?;
        bytes
            .flatten()
            .map(|b| {
                Membership::from_bytes(&b)
                    .map_err(|e| Error::Corrupt(format!("output {id} persons: {e}")))
            })
            .transpose()
    }

    /// Checks `table` on the blocking pool, one check at a time in the
    /// process, within [`CHECK_SECONDS`] and [`MAX_DENSE_CELLS`]; dropping
    /// the returned future stops the check. The async runtime never runs
    /// the solver, so a large table cannot stall sign-in, the portal or
    /// the audit writer.
    async fn checked(
        &self,
        table: CellTable,
        rules: &Rules,
        earlier: Vec<EarlierRelease>,
    ) -> Result<(CellTable, disclosure::Decision)> {
        let wait = Duration::from_secs(CHECK_SECONDS);
        let _slot = tokio::time::timeout(wait, self.checks.acquire())
            .await
            .map_err(|_| {
                Error::Busy(
                    "the output check is busy with other tables; try again in a minute".to_owned(),
                )
            })?
            .map_err(|_| Error::Corrupt("the output check's slots were closed".to_owned()))?;
        let cancel = Arc::new(AtomicBool::new(false));
        let _stop = CancelOnDrop(cancel.clone());
        let budget = Budget::new(wait, MAX_DENSE_CELLS).cancelled_by(cancel);
        let rules = rules.clone();
        let (table, decision) = tokio::task::spawn_blocking(move || {
            let decision = disclosure::check_within(&table, &rules, &earlier, &budget);
            (table, decision)
        })
        .await
        .map_err(|e| Error::Corrupt(format!("the output check stopped: {e}")))?;
        Ok((table, decision.map_err(refusal)?))
    }

    /// A permit's turn to propose an output, or [`Error::Busy`] while one
    /// of its proposals is being computed.
    fn proposal_turn(&self, permit: PermitId) -> Result<ProposalTurn> {
        let mut busy = self
            .proposing
            .lock()
            .map_err(|_| Error::Corrupt("the proposal list was poisoned".to_owned()))?;
        if !busy.insert(permit) {
            return Err(Error::Busy(format!(
                "an output of permit {permit} is being checked; wait for it before asking for another"
            )));
        }
        Ok(ProposalTurn {
            permit,
            proposing: self.proposing.clone(),
        })
    }

    async fn audited(&self, actor: Actor, action: &str, object: String) -> Result<()> {
        self.audit
            .append(AuditEvent {
                at: self.clock.now(),
                actor,
                action: action.to_owned(),
                object,
                outcome: Outcome::Success,
                status: None,
                request_id: None,
            })
            .await
            .map(|_| ())
            .map_err(Error::Audit)
    }
}

async fn outputs_where_in(
    conn: &mut sqlx::AnyConnection,
    filter: &str,
    value: &str,
) -> Result<Vec<Output>> {
    let rows: Vec<OutputRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM outputs WHERE {filter} ORDER BY id DESC"
    ))
    .bind(value)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|r| output_of(r).map(|(o, _)| o))
        .collect()
}

fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Corrupt(format!("to JSON: {e}")))
}

fn no_dp() -> Error {
    Error::Invalid(
        "privacy: noisy releases are not offered here ([analysis.disclosure] dp_budget is not set)"
            .to_owned(),
    )
}

fn privacy_error(e: disclosure::Error) -> Error {
    match e {
        disclosure::Error::BudgetExceeded { .. } => {
            Error::Conflict(format!("the output cannot be released: {e}"))
        }
        other => Error::Invalid(format!("privacy: {other}")),
    }
}

/// The table of a noisy release: every combination of the listed
/// categories (and, with margins, their totals), with the true counts of
/// `computed` where it has them and zero elsewhere. Rows in categories
/// outside the list are left out.
fn listed_table(
    computed: &CellTable,
    request: &OutputRequest,
    privacy: &PrivacyRequest,
) -> Result<CellTable> {
    let lists = &privacy.categories;
    // The computed interior cells inside the lists.
    let interior: Vec<(Vec<&str>, u64)> = computed
        .cells()
        .iter()
        .filter_map(|cell| {
            let values: Vec<&str> = cell
                .key
                .parts()
                .iter()
                .zip(lists)
                .map(|(part, list)| match part {
                    Key::Value(v) if list.contains(v) => Some(v.as_str()),
                    _ => None,
                })
                .collect::<Option<_>>()?;
            Some((values, cell.persons))
        })
        .collect();
    let d = request.dimensions.len();
    let mut table = CellTable::new(
        request.dimensions.iter().map(ToString::to_string),
        request.kind,
    );
    // Each mask says which dimensions are totals: 0 is the interior.
    let masks: Vec<u32> = if request.margins {
        (0..1u32 << d).collect()
    } else {
        vec![0]
    };
    for mask in masks {
        let total = |dim: usize| mask & (1 << dim) != 0;
        let mut sums: HashMap<Vec<&str>, u64> = HashMap::new();
        for (values, persons) in &interior {
            let key = (0..d).map(|dim| if total(dim) { "" } else { values[dim] });
            *sums.entry(key.collect()).or_default() += persons;
        }
        // Every combination of the listed categories (a total's axis has
        // one place), an empty one included.
        let mut combinations: Vec<Vec<&str>> = vec![Vec::new()];
        for (dim, list) in lists.iter().enumerate() {
            let axis: Vec<&str> = if total(dim) {
                vec![""]
            } else {
                list.iter().map(String::as_str).collect()
            };
            combinations = combinations
                .into_iter()
                .flat_map(|c| {
                    axis.iter().map(move |v| {
                        let mut c = c.clone();
                        c.push(*v);
                        c
                    })
                })
                .collect();
        }
        for combination in combinations {
            let persons = sums.get(&combination).copied().unwrap_or(0);
            let key = combination.iter().enumerate().map(|(dim, v)| {
                if total(dim) {
                    Key::Total
                } else {
                    Key::value(*v)
                }
            });
            table.push_count(key, persons);
        }
    }
    Ok(table)
}

/// A disclosure error on a table the workspace computed is the request's
/// fault (a table too large to check, a negative value), not the
/// platform's: the researcher is told why.
fn refusal(e: disclosure::Error) -> Error {
    match e {
        disclosure::Error::Cancelled => {
            Error::Conflict("the output check was cancelled".to_owned())
        }
        e => Error::Invalid(format!("the output cannot be checked: {e}")),
    }
}

/// Sets its flag when dropped: the check's requester has gone.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A permit's proposal in progress; dropping it ends the permit's turn.
struct ProposalTurn {
    permit: PermitId,
    proposing: Arc<std::sync::Mutex<std::collections::HashSet<PermitId>>>,
}

impl Drop for ProposalTurn {
    fn drop(&mut self) {
        if let Ok(mut busy) = self.proposing.lock() {
            busy.remove(&self.permit);
        }
    }
}

#[cfg(test)]
mod spreadsheet_safe_tests {
    use super::spreadsheet_safe;

    #[test]
    fn formula_starts_are_prefixed_and_numbers_kept() {
        for formula in ["=1+1", "+cmd", "-x", "@SUM(A1)", "\t=1+1", "\r=1+1"] {
            assert_eq!(
                spreadsheet_safe(formula),
                format!("'{formula}"),
                "{formula:?}"
            );
        }
        for plain in ["-5", "+3.5", "東京", "a=b", ""] {
            assert_eq!(spreadsheet_safe(plain), plain, "{plain:?}");
        }
    }
}
