//! Verification of a stored log from scratch, independent of any running
//! writer: every entry's leaf hash is recomputed from its data, the root is
//! recomputed at every stored head's size, and every head's signature is
//! checked. This is what `renkei audit verify` runs.

use std::collections::VecDeque;
use std::fmt;
use std::path::PathBuf;

use renkei_store::Stores;

use crate::error::HeadOrigin;
use crate::head::{LogKey, PublicKey, SignedTreeHead};
use crate::merkle::{Frontier, Hash, leaf_hash};
use crate::store::{self, DB, KEY_FILE};
use crate::{Error, Result};

/// What a successful verification covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries whose leaf hash was recomputed from their data.
    pub entries: u64,
    /// Stored signed tree heads whose signature and root were checked.
    pub heads: u64,
    /// The root of all the entries (RFC 9162 §2.1.1).
    pub root: Hash,
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} entries, {} signed tree heads, root {}",
            self.entries, self.heads, self.root
        )
    }
}

/// Verifies the audit log in `stores` with the public half of the key file
/// in its data directory, and, if given, checks `head` against it too (a
/// head kept outside the platform catches entries removed or rewritten
/// together with their stored heads).
///
/// Returns the first problem found, locating it by entry index or head
/// size.
pub async fn verify(stores: &Stores, head: Option<&SignedTreeHead>) -> Result<VerifyReport> {
    let path = stores.data_dir().join(KEY_FILE);
    // Only read the key file: creating one here would make every stored
    // head fail with a key mismatch instead of saying the key is missing.
    if !path.exists() {
        return verify_inner(stores, Key::Missing(path), head).await;
    }
    let (secret, _) = renkei_store::keys::load_or_create_secret::<32>(&path)?;
    let key = LogKey::from_secret(&secret).public();
    verify_inner(stores, Key::Known(&key), head).await
}

/// The public half of the signing key in the data directory of `stores`,
/// read without opening the log (`None` before the log made one). Pin it
/// (`[audit] public_key`, `renkei audit verify --key`) while the directory
/// is known to be sound.
pub fn stored_public_key(stores: &Stores) -> Result<Option<PublicKey>> {
    let path = stores.data_dir().join(KEY_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let (secret, _) = renkei_store::keys::load_or_create_secret::<32>(&path)?;
    Ok(Some(LogKey::from_secret(&secret).public()))
}

/// Like [`verify`], with a public key obtained elsewhere (a verifier that
/// does not hold the log's key file).
pub async fn verify_with_key(
    stores: &Stores,
    key: &PublicKey,
    head: Option<&SignedTreeHead>,
) -> Result<VerifyReport> {
    verify_inner(stores, Key::Known(key), head).await
}

/// The key heads are checked with; a log without heads needs none.
enum Key<'a> {
    Known(&'a PublicKey),
    Missing(PathBuf),
}

impl Key<'_> {
    fn get(&self) -> Result<&PublicKey> {
        match self {
            Key::Known(key) => Ok(key),
            Key::Missing(path) => Err(Error::KeyMissing { path: path.clone() }),
        }
    }
}

async fn verify_inner(
    stores: &Stores,
    key: Key<'_>,
    given: Option<&SignedTreeHead>,
) -> Result<VerifyReport> {
    let db = stores.database(DB, &store::migrations()).await?;
    let pool = db.pool();
    let mut frontier = Frontier::new();
    let mut heads = HeadCursor::default();
    let mut checked = Checked {
        key,
        last_good: 0,
        heads: 0,
        given_at: None,
    };
    checked.heads_at(&mut heads, pool, &frontier, given).await?;
    loop {
        let page = store::entry_page(pool, frontier.size(), None, store::PAGE).await?;
        let full = page.len() as i64 == store::PAGE;
        for row in page {
            let index = frontier.size();
            if row.idx != store::db_int(index) {
                return Err(Error::EntryGap {
                    expected: index,
                    found: row.idx,
                });
            }
            // RFC 9162 §2.1.1: the leaf hash covers the stored bytes, so
            // recomputing it catches an edit of either column.
            let computed = leaf_hash(&row.data);
            if Hash::from_slice(&row.leaf_hash) != Some(computed) {
                return Err(Error::LeafHashMismatch {
                    index,
                    stored: hex::encode(&row.leaf_hash),
                    computed,
                });
            }
            frontier.push(computed);
            checked.heads_at(&mut heads, pool, &frontier, given).await?;
        }
        if !full {
            break;
        }
    }
    let entries = frontier.size();
    if let Some(head) = heads.next(pool).await? {
        return Err(Error::HeadBeyondLog {
            origin: HeadOrigin::Stored,
            tree_size: head.tree_size,
            entries,
        });
    }
    if let Some(head) = given {
        let Some((root, since)) = checked.given_at else {
            return Err(Error::HeadBeyondLog {
                origin: HeadOrigin::Given,
                tree_size: head.tree_size,
                entries,
            });
        };
        check_head(head, &root, checked.key.get()?, HeadOrigin::Given, since)?;
    }
    tracing::info!(entries, heads = checked.heads, "audit log verified");
    Ok(VerifyReport {
        entries,
        heads: checked.heads,
        root: frontier.root(),
    })
}

/// The state of a verification between entries.
struct Checked<'a> {
    key: Key<'a>,
    /// The size of the last stored head that verified.
    last_good: u64,
    /// How many stored heads verified.
    heads: u64,
    /// The root at the given head's size, and the last good size before it.
    given_at: Option<(Hash, u64)>,
}

impl Checked<'_> {
    /// Checks every stored head at the frontier's size (every size is
    /// visited in turn, so no smaller head is left), and remembers the root
    /// there if the given head is at this size.
    async fn heads_at(
        &mut self,
        heads: &mut HeadCursor,
        pool: &sqlx::AnyPool,
        frontier: &Frontier,
        given: Option<&SignedTreeHead>,
    ) -> Result<()> {
        let size = frontier.size();
        let before = self.last_good;
        let mut root = None;
        while heads
            .peek(pool)
            .await?
            .is_some_and(|head| head.tree_size <= size)
        {
            let Some(head) = heads.next(pool).await? else {
                break;
            };
            let root = *root.get_or_insert_with(|| frontier.root());
            check_head(
                &head,
                &root,
                self.key.get()?,
                HeadOrigin::Stored,
                self.last_good,
            )?;
            self.last_good = size;
            self.heads += 1;
        }
        if given.is_some_and(|g| g.tree_size == size) {
            self.given_at = Some((root.unwrap_or_else(|| frontier.root()), before));
        }
        Ok(())
    }
}

/// Checks the signature first: if it fails, the head itself was altered;
/// if it holds but the root differs, the entries were.
fn check_head(
    head: &SignedTreeHead,
    computed: &Hash,
    key: &PublicKey,
    origin: HeadOrigin,
    since: u64,
) -> Result<()> {
    head.check_signature(key, origin, since)?;
    if head.root_hash != *computed {
        return Err(Error::HeadRootMismatch {
            origin,
            tree_size: head.tree_size,
            since,
            signed: head.root_hash,
            computed: *computed,
        });
    }
    Ok(())
}

/// Stored heads in increasing size, read a page at a time.
#[derive(Default)]
struct HeadCursor {
    buffer: VecDeque<SignedTreeHead>,
    /// The smallest size not yet read.
    from: u64,
    done: bool,
}

impl HeadCursor {
    async fn fill(&mut self, pool: &sqlx::AnyPool) -> Result<()> {
        if self.buffer.is_empty() && !self.done {
            let page = store::head_page(pool, self.from).await?;
            self.done = (page.len() as i64) < store::PAGE;
            if let Some(last) = page.last() {
                self.from = last.tree_size + 1;
            }
            self.buffer.extend(page);
        }
        Ok(())
    }

    async fn peek(&mut self, pool: &sqlx::AnyPool) -> Result<Option<&SignedTreeHead>> {
        self.fill(pool).await?;
        Ok(self.buffer.front())
    }

    async fn next(&mut self, pool: &sqlx::AnyPool) -> Result<Option<SignedTreeHead>> {
        self.fill(pool).await?;
        Ok(self.buffer.pop_front())
    }
}

/// The latest signed tree head in storage, read without opening the log for
/// writing (so it works beside a running platform). `None` for a log that
/// has never signed one.
pub async fn latest_stored_head(stores: &Stores) -> Result<Option<SignedTreeHead>> {
    let db = stores
        .database(crate::store::DB, &crate::store::migrations())
        .await?;
    crate::store::latest_head(db.pool()).await
}
