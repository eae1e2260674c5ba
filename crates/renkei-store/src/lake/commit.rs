//! Committing: changes to one or several tables as one lake version (see
//! the module docs of [`super`] for why this is atomic).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use object_store::PutMode;
use tracing::{debug, info, instrument, warn};

use super::lake_snapshot::TableState;
use super::log::{CommitMarker, LakeEntry, entry_path, marker_path};
use super::manifest::{Manifest, manifest_path};
use super::schema::{appends_nullable, conform_batches, schema_difference};
use super::{
    Change, Lake, LakeChange, LakeSnapshot, LakeVersion, ObjectPath, Snapshot, StagedFile,
    TableName, TableVersion, invalid,
};
use crate::{Error, Result};

/// How many lake versions a commit tries before giving up on conflicts.
const MAX_COMMIT_ATTEMPTS: u32 = 64;

impl Lake {
    /// Appends `batches` to `table` as one new data file, creating the table
    /// with their schema if it does not exist. Returns the new version.
    pub async fn append(&self, table: &TableName, batches: &[RecordBatch]) -> Result<TableVersion> {
        if batches.is_empty() {
            return Err(invalid(table, "nothing to append: no batches given"));
        }
        self.commit(
            table,
            Change::new()
                .add_batches(batches.iter().cloned())
                .operation("append"),
        )
        .await
    }

    /// Commits `change` to `table` as its next version, which is returned: a
    /// [`commit_all`](Self::commit_all) of one table.
    ///
    /// Added batches and staged files must have the table's schema (same
    /// field names, order and types; a non-nullable field where the table's
    /// is nullable is accepted) or [`Error::InvalidTable`] names the first
    /// difference; for a table that does not exist yet, the first batch's
    /// schema (or else the first staged file's) becomes the table's. Removed
    /// files must be in the latest version, or [`Error::MissingDataFile`]
    /// names the first that is not.
    pub async fn commit(&self, table: &TableName, change: Change) -> Result<TableVersion> {
        let landed = self
            .commit_change(LakeChange::new().table(table.clone(), change))
            .await?;
        Ok(*landed
            .tables
            .get(table)
            .expect("a landed commit has a version of each table it changed"))
    }

    /// Commits `change` as the next lake version, which is returned: every
    /// table it changes gets its next version, and readers see all of them
    /// or none.
    ///
    /// Each table's [`Change`] is checked as [`commit`](Self::commit) says;
    /// a staged file of another table is refused with
    /// [`Error::InvalidTable`], and a change to no table with
    /// [`Error::InvalidLake`]. When another writer commits first, the change
    /// is checked again on top of its version, and a table that writer
    /// changed too gets its manifest rebuilt; after 64 such conflicts in a
    /// row, [`Error::CommitConflict`].
    ///
    /// When the commit is refused (or gives up), its staged files and the
    /// files written for its batches are deleted: stage again to retry.
    /// When its outcome is unknown (a network error on the final write),
    /// they are kept, since it may have landed;
    /// [`find_commit`](Self::find_commit) tells.
    ///
    /// With a [`LakeChange::commit_id`] that already landed (a retry after a
    /// crash), nothing is committed: the change's files are deleted and the
    /// version that landed is returned. Checking costs one write (the id's
    /// marker) when the id is new, and otherwise reads the log back to when
    /// it was first tried.
    pub async fn commit_all(&self, change: LakeChange) -> Result<LakeVersion> {
        self.commit_change(change)
            .await
            .map(|landed| landed.version)
    }

    #[instrument(skip_all, fields(tables = change.tables.len(), commit_id = change.commit_id.as_deref()))]
    async fn commit_change(&self, change: LakeChange) -> Result<Landed> {
        let LakeChange {
            tables,
            operation,
            properties,
            commit_id,
        } = change;
        let attempt = uuid::Uuid::now_v7().to_string();
        let mut commit = Commit {
            user_commit_id: commit_id.is_some(),
            commit_id: commit_id.unwrap_or_else(|| attempt.clone()),
            attempt,
            operation,
            properties,
            plans: Vec::new(),
            data_files: Vec::new(),
            manifests: Vec::new(),
        };
        let tables: Vec<(TableName, Change)> = tables.into_iter().collect();
        // From here on, the change's files are ours to delete if it is refused.
        for (_, change) in &tables {
            commit
                .data_files
                .extend(change.staged.iter().map(|s| s.path().clone()));
        }
        let names = tables
            .iter()
            .map(|(t, _)| t.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        match self.run(&mut commit, tables, &names).await {
            Ok(Outcome::Committed(landed)) => Ok(landed),
            Ok(Outcome::AlreadyCommitted(landed)) => {
                info!(
                    version = landed.version.get(),
                    "the commit id already landed; discarding this change's files"
                );
                self.delete_all(commit.written()).await;
                Ok(landed)
            }
            Err(Failure::NotCommitted(error)) => {
                self.delete_all(commit.written()).await;
                Err(error)
            }
            Err(Failure::Unknown(error)) => {
                warn!(
                    files = commit.data_files.len(),
                    "the commit's outcome is unknown; keeping its files"
                );
                Err(error)
            }
        }
    }

    async fn run(
        &self,
        commit: &mut Commit,
        tables: Vec<(TableName, Change)>,
        names: &str,
    ) -> Result<Outcome, Failure> {
        use Failure::NotCommitted;
        if tables.is_empty() {
            return Err(NotCommitted(Error::InvalidLake {
                reason: "the change names no table".to_owned(),
            }));
        }
        for (table, change) in &tables {
            check_shape(table, change).map_err(NotCommitted)?;
        }
        let mut base = self.current().await.map_err(NotCommitted)?;
        if commit.user_commit_id
            && let Some(landed) = self
                .claim_commit_id(&commit.commit_id, base.as_ref())
                .await?
        {
            return Ok(Outcome::AlreadyCommitted(landed));
        }
        for (table, change) in tables {
            let base_table = base.as_ref().and_then(|b| b.table(&table));
            let plan = self
                .plan(commit, table, change, base_table)
                .await
                .map_err(NotCommitted)?;
            commit.plans.push(plan);
        }

        let mut attempts = 0;
        loop {
            attempts += 1;
            self.write_manifests(commit, base.as_ref()).await?;
            let next = base
                .as_ref()
                .map_or(LakeVersion::FIRST, |b| b.version.next());
            let snapshot = commit.lake_snapshot(self, next, base.as_ref());
            let location = entry_path(next);
            let json = LakeEntry::from_snapshot(&snapshot, &commit.attempt).to_json();
            match self
                .inner
                .store
                .put_opts(&location, json.into(), PutMode::Create.into())
                .await
            {
                Ok(_) => return Ok(Outcome::Committed(commit.landed(self, snapshot, attempts))),
                Err(object_store::Error::AlreadyExists { .. }) => {
                    // A retried request whose first try landed also ends
                    // here, finding our own entry.
                    let existing = self.read_entry(next).await.map_err(Failure::Unknown)?;
                    if existing.attempt == commit.attempt {
                        return Ok(Outcome::Committed(commit.landed(self, snapshot, attempts)));
                    }
                    if commit.user_commit_id && existing.commit_id == commit.commit_id {
                        return Ok(Outcome::AlreadyCommitted(Landed::of(next, &existing)));
                    }
                    if attempts >= MAX_COMMIT_ATTEMPTS {
                        return Err(NotCommitted(Error::CommitConflict {
                            table: names.to_owned(),
                            attempts,
                        }));
                    }
                    debug!(
                        version = next.get(),
                        attempts, "another writer committed this lake version first; retrying"
                    );
                    let newer = self.current().await.map_err(NotCommitted)?;
                    if commit.user_commit_id
                        && let Some(newer) = &newer
                        && let Some((version, entry)) = self
                            .find_in_log(&commit.commit_id, next.get(), newer.version)
                            .await
                            .map_err(NotCommitted)?
                    {
                        return Ok(Outcome::AlreadyCommitted(Landed::of(version, &entry)));
                    }
                    base = newer;
                }
                Err(source) => {
                    return Err(Failure::Unknown(Error::ObjectStore {
                        location: location.to_string(),
                        source,
                    }));
                }
            }
        }
    }

    /// Creates the marker of `commit_id`, or, if it was tried before, looks
    /// for the lake version it landed as (up to `base`; later versions are
    /// checked as they conflict with ours).
    async fn claim_commit_id(
        &self,
        commit_id: &str,
        base: Option<&LakeSnapshot>,
    ) -> Result<Option<Landed>, Failure> {
        let location = marker_path(commit_id);
        let marker = CommitMarker::new(commit_id, base.map(|b| b.version));
        match self
            .inner
            .store
            .put_opts(&location, marker.to_json().into(), PutMode::Create.into())
            .await
        {
            Ok(_) => Ok(None),
            Err(object_store::Error::AlreadyExists { .. }) => {
                let Some(base) = base else {
                    return Ok(None);
                };
                let earlier = self
                    .read_marker(commit_id)
                    .await
                    .map_err(Failure::NotCommitted)?
                    .ok_or_else(|| {
                        Failure::NotCommitted(Error::InvalidLake {
                            reason: format!("commit marker {location} vanished"),
                        })
                    })?;
                let found = self
                    .find_in_log(commit_id, earlier.since, base.version)
                    .await
                    .map_err(Failure::NotCommitted)?;
                Ok(found.map(|(version, entry)| Landed::of(version, &entry)))
            }
            Err(source) => Err(Failure::NotCommitted(Error::ObjectStore {
                location: location.to_string(),
                source,
            })),
        }
    }

    /// Checks `change` against `table` as of `base` and writes its batches.
    async fn plan(
        &self,
        commit: &mut Commit,
        table: TableName,
        change: Change,
        base: Option<&Snapshot>,
    ) -> Result<TablePlan> {
        let Change {
            add,
            staged,
            remove,
            operation,
            properties,
        } = change;
        check_removals(&table, base, &remove)?;
        let schema = match (base, add.first(), staged.first()) {
            // A new nullable column: the batches' schema becomes the table's.
            (Some(base), Some(first), _) if appends_nullable(base.schema(), &first.schema()) => {
                first.schema()
            }
            (Some(base), _, _) => base.schema().clone(),
            (None, Some(first), _) => first.schema(),
            (None, None, Some(first)) => first.schema().clone(),
            (None, None, None) => {
                unreachable!("a change that only removes files from an absent table was refused")
            }
        };
        let mut added = staged;
        if !add.is_empty() {
            let add = conform_batches(&table, &schema, "the table's schema", add)?;
            if let Some(file) = self.write_data_file(&table, &schema, add).await? {
                commit.data_files.push(file.path().clone());
                added.push(StagedFile::new(table.clone(), file, schema.clone()));
            }
        }
        Ok(TablePlan {
            table,
            schema,
            first_base: base.map(Snapshot::version),
            added,
            remove,
            operation,
            properties,
            written: None,
        })
    }

    /// Writes the manifest of every table whose base in `base` is not the
    /// one its manifest was written on (all of them the first time).
    async fn write_manifests(
        &self,
        commit: &mut Commit,
        base: Option<&LakeSnapshot>,
    ) -> Result<(), Failure> {
        let now = self.inner.clock.now();
        for i in 0..commit.plans.len() {
            let plan = &commit.plans[i];
            let base_state = base.and_then(|b| b.state(&plan.table));
            let base_manifest = base_state.map(|s| &s.manifest);
            if let Some(written) = &plan.written
                && written.base.as_ref() == base_manifest
            {
                continue;
            }
            let snapshot = plan
                .next_snapshot(
                    base_state.map(|s| s.snapshot.as_ref()),
                    now,
                    &commit.operation,
                    &commit.properties,
                )
                .map_err(Failure::NotCommitted)?;
            let location = manifest_path(&plan.table, snapshot.version(), &commit.attempt);
            commit.manifests.push(location.clone());
            let json = Manifest::from_snapshot(&snapshot, &commit.attempt).to_json();
            match self
                .inner
                .store
                .put_opts(&location, json.into(), PutMode::Create.into())
                .await
            {
                // The name is this attempt's own: an existing object is our
                // retried put's first try.
                Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => {}
                Err(source) => {
                    return Err(Failure::NotCommitted(Error::ObjectStore {
                        location: location.to_string(),
                        source,
                    }));
                }
            }
            let written = Written {
                base: base_manifest.cloned(),
                state: TableState {
                    manifest: location,
                    snapshot: Arc::new(snapshot),
                },
            };
            if let Some(superseded) = commit.plans[i].written.replace(written) {
                // Built on a base that another writer replaced: no lake
                // version references it, or ever will.
                commit.manifests.retain(|m| m != &superseded.state.manifest);
                self.delete_all(vec![superseded.state.manifest]).await;
            }
        }
        Ok(())
    }
}

/// One commit in progress.
struct Commit {
    /// Unique to this call: in manifest names and the log entry, to tell our
    /// own writes from any other's.
    attempt: String,
    /// Recorded in the log entry: the caller's, or `attempt`.
    commit_id: String,
    /// Whether `commit_id` is the caller's (and so may have landed before).
    user_commit_id: bool,
    operation: Option<String>,
    properties: BTreeMap<String, String>,
    plans: Vec<TablePlan>,
    /// Every data file of the change (staged or written for its batches).
    data_files: Vec<ObjectPath>,
    /// The table manifests written and not superseded.
    manifests: Vec<ObjectPath>,
}

impl Commit {
    /// Everything the commit wrote or was given, to delete if it is refused.
    fn written(&self) -> Vec<ObjectPath> {
        self.data_files
            .iter()
            .chain(&self.manifests)
            .cloned()
            .collect()
    }

    /// Lake version `version`: `base` with every planned table's new version.
    fn lake_snapshot(
        &self,
        lake: &Lake,
        version: LakeVersion,
        base: Option<&LakeSnapshot>,
    ) -> LakeSnapshot {
        let mut tables = base.map(|b| b.tables.clone()).unwrap_or_default();
        for plan in &self.plans {
            let written = plan
                .written
                .as_ref()
                .expect("every plan's manifest is written before the lake version");
            tables.insert(plan.table.clone(), written.state.clone());
        }
        LakeSnapshot {
            version,
            committed_at: lake.inner.clock.now(),
            commit_id: self.commit_id.clone(),
            operation: self.operation.clone(),
            properties: self.properties.clone(),
            tables,
        }
    }

    /// What landed as `snapshot`, which the lake remembers as its newest.
    fn landed(&self, lake: &Lake, snapshot: LakeSnapshot, attempts: u32) -> Landed {
        let rows: u64 = self
            .plans
            .iter()
            .flat_map(|p| &p.added)
            .map(StagedFile::rows)
            .sum();
        info!(
            version = snapshot.version.get(),
            tables = self.plans.len(),
            rows_added = rows,
            files_removed = self.plans.iter().map(|p| p.remove.len()).sum::<usize>(),
            attempts,
            "committed lake version"
        );
        lake.remember(&snapshot);
        Landed {
            version: snapshot.version,
            tables: self
                .plans
                .iter()
                .filter_map(|p| Some((p.table.clone(), snapshot.table(&p.table)?.version())))
                .collect(),
        }
    }
}

/// One table's part of a commit.
struct TablePlan {
    table: TableName,
    /// The schema the change was first checked against (for a new table,
    /// the one it gets).
    schema: SchemaRef,
    /// The table's version the change was first checked against.
    first_base: Option<TableVersion>,
    added: Vec<StagedFile>,
    remove: Vec<ObjectPath>,
    operation: Option<String>,
    properties: BTreeMap<String, String>,
    /// The manifest written for the latest try.
    written: Option<Written>,
}

/// A table manifest written on top of a base.
struct Written {
    /// The base's manifest (`None`: written as the table's first version).
    base: Option<ObjectPath>,
    state: TableState,
}

impl TablePlan {
    /// The table's next version on top of `base`, if the change still
    /// applies to it.
    fn next_snapshot(
        &self,
        base: Option<&Snapshot>,
        now: renkei_core::Timestamp,
        lake_operation: &Option<String>,
        lake_properties: &BTreeMap<String, String>,
    ) -> Result<Snapshot> {
        let table = &self.table;
        check_removals(table, base, &self.remove)?;
        // The table's schema grows when an added file appends nullable
        // fields to it; files with the narrower schema still fit (their
        // rows read as null in the new fields).
        let mut schema = base.map_or(&self.schema, Snapshot::schema).clone();
        for file in &self.added {
            if appends_nullable(&schema, file.schema()) {
                schema = file.schema().clone();
            }
        }
        let schema = &schema;
        for file in &self.added {
            if appends_nullable(file.schema(), schema) {
                continue;
            }
            if let Some(difference) = schema_difference(schema, file.schema()) {
                let reason = match base {
                    Some(base) if Some(base.version()) != self.first_base => format!(
                        "another writer committed version {} with a different schema: {difference}",
                        base.version()
                    ),
                    _ => format!(
                        "staged file {} does not have the table's schema: {difference}",
                        file.path()
                    ),
                };
                return Err(invalid(table, &reason));
            }
        }
        let version = base.map_or(TableVersion::FIRST, |b| b.version().next());
        let files = base
            .iter()
            .flat_map(|b| b.files())
            .filter(|f| !self.remove.contains(f.path()))
            .chain(self.added.iter().map(StagedFile::data_file))
            .cloned()
            .collect();
        let mut properties = lake_properties.clone();
        properties.extend(self.properties.clone());
        Ok(Snapshot::new(
            table.clone(),
            version,
            now,
            schema.clone(),
            files,
            self.operation.clone().or_else(|| lake_operation.clone()),
            properties,
        ))
    }
}

/// A lake version that holds a commit.
struct Landed {
    version: LakeVersion,
    /// The version of each table the commit changed.
    tables: BTreeMap<TableName, TableVersion>,
}

impl Landed {
    fn of(version: LakeVersion, entry: &LakeEntry) -> Self {
        Self {
            version,
            tables: entry
                .tables
                .iter()
                .filter_map(|(name, table)| {
                    Some((
                        TableName::parse(name).ok()?,
                        TableVersion::new(table.version),
                    ))
                })
                .collect(),
        }
    }
}

enum Outcome {
    /// This call committed the change.
    Committed(Landed),
    /// An earlier call with the same commit id did.
    AlreadyCommitted(Landed),
}

/// Why a commit did not land, and whether it might have.
enum Failure {
    /// Certainly not committed: its files can go.
    NotCommitted(Error),
    /// Perhaps committed: its files must stay.
    Unknown(Error),
}

/// Refuses a change that does nothing, or adds a file staged for another
/// table.
fn check_shape(table: &TableName, change: &Change) -> Result<()> {
    if change.is_empty() {
        return Err(invalid(
            table,
            "the change adds no batches or staged files and removes no files",
        ));
    }
    if let Some(other) = change.staged.iter().find(|s| s.table() != table) {
        return Err(invalid(
            table,
            &format!(
                "staged file {} was staged for table {:?}",
                other.path(),
                other.table().as_str()
            ),
        ));
    }
    Ok(())
}

fn check_removals(table: &TableName, base: Option<&Snapshot>, remove: &[ObjectPath]) -> Result<()> {
    let held = |path: &ObjectPath| base.is_some_and(|b| b.files().iter().any(|f| f.path() == path));
    match remove.iter().find(|path| !held(path)) {
        Some(path) => Err(Error::MissingDataFile {
            table: table.to_string(),
            path: path.to_string(),
            version: base.map_or(0, |b| b.version().get()),
        }),
        None => Ok(()),
    }
}
