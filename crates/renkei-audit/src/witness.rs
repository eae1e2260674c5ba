//! A witness: signed tree heads published outside the data directory.
//!
//! Whoever holds a copy of the data directory holds the signing key too, so
//! every head stored beside the entries can be re-signed after the entries
//! were cut back or rewritten. A head kept somewhere that copy does not
//! reach cannot: the log must stay consistent with it (RFC 9162 §2.1.4), and
//! a log smaller than it lost entries. The platform appends its latest head
//! to a witness file on a schedule, and refuses to open a log that is not
//! consistent with the last head witnessed ([`crate::Trust`]).
//!
//! The file is JSON Lines: one [`SignedTreeHead`] per line, growing tree
//! sizes, appended with `O_APPEND` and flushed to disk before the append
//! counts. It belongs on another disk, a mount only the platform's account
//! can append to, or a directory another machine copies away.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::head::SignedTreeHead;
use crate::{Error, Result};

/// A witness file of signed tree heads (JSON Lines).
#[derive(Clone, Debug)]
pub struct Witness {
    path: PathBuf,
}

impl Witness {
    /// The witness at `path` (created on first publication).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Where the witness file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last head in the file (heads are appended in growing tree
    /// size); `None` if the file does not exist or holds no head yet.
    ///
    /// Only the end of the file is read, so this stays cheap however long
    /// the witness grows. A last line without its newline is a publication
    /// cut short by a crash and is skipped; a last complete line that is not
    /// a head is an error naming its byte offset.
    pub fn latest(&self) -> Result<Option<SignedTreeHead>> {
        Ok(self.tail()?.head)
    }

    /// Appends `head` if it is larger than the last head witnessed; returns
    /// whether it was appended. Creates the file (mode 0600, and its
    /// directory 0700) if needed.
    pub fn publish(&self, head: &SignedTreeHead) -> Result<bool> {
        let tail = self.tail()?;
        if tail
            .head
            .as_ref()
            .is_some_and(|l| l.tree_size >= head.tree_size)
        {
            return Ok(false);
        }
        let io = |source| Error::Witness {
            path: self.path.clone(),
            offset: None,
            reason: "cannot append".to_owned(),
            source: Some(source),
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(io)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&self.path).map_err(io)?;
        // A line cut short by a crash was never a witnessed head: drop it,
        // so that the new head starts a line of its own.
        if tail.complete_len < tail.len {
            file.set_len(tail.complete_len).map_err(io)?;
        }
        let mut line = serde_json::to_string(head).expect("a head always serializes");
        line.push('\n');
        // One write of the whole line with O_APPEND, then a flush: a head
        // counts as witnessed only once it is on disk.
        (&file).write_all(line.as_bytes()).map_err(io)?;
        file.sync_data().map_err(io)?;
        Ok(true)
    }

    fn tail(&self) -> Result<Tail> {
        let fail =
            |offset: Option<u64>, reason: String, source: Option<std::io::Error>| Error::Witness {
                path: self.path.clone(),
                offset,
                reason,
                source,
            };
        let mut file = match std::fs::File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Tail {
                    head: None,
                    len: 0,
                    complete_len: 0,
                });
            }
            Err(e) => return Err(fail(None, "cannot read".to_owned(), Some(e))),
        };
        let read_err = |e| fail(None, "cannot read".to_owned(), Some(e));
        let len = file.metadata().map_err(read_err)?.len();
        // A head is about 330 bytes; the window holds several lines, so the
        // last complete one is always whole in it.
        let start = len.saturating_sub(TAIL_WINDOW);
        file.seek(SeekFrom::Start(start)).map_err(read_err)?;
        let mut window = Vec::new();
        file.read_to_end(&mut window).map_err(read_err)?;
        let complete_len = match window.iter().rposition(|&b| b == b'\n') {
            Some(at) => start + at as u64 + 1,
            None if start == 0 => 0,
            None => {
                return Err(fail(
                    Some(start),
                    format!("no line ends in the last {TAIL_WINDOW} bytes"),
                    None,
                ));
            }
        };
        if complete_len < len {
            tracing::warn!(path = %self.path.display(), offset = complete_len, "a witness line was cut short; it will be dropped");
        }
        let complete = &window[..(complete_len - start) as usize];
        let mut lines = Vec::new();
        let mut at = start;
        for line in complete.split(|&b| b == b'\n') {
            lines.push((at, line));
            at += line.len() as u64 + 1;
        }
        for (at, line) in lines.into_iter().rev() {
            let text = String::from_utf8_lossy(line);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let head = serde_json::from_str::<SignedTreeHead>(text)
                .map_err(|e| fail(Some(at), format!("not a signed tree head: {e}"), None))?;
            return Ok(Tail {
                head: Some(head),
                len,
                complete_len,
            });
        }
        Ok(Tail {
            head: None,
            len,
            complete_len,
        })
    }
}

/// How much of the file's end is read to find the last head.
const TAIL_WINDOW: u64 = 16 * 1024;

/// The end of a witness file.
struct Tail {
    /// Its last head.
    head: Option<SignedTreeHead>,
    /// Its length.
    len: u64,
    /// The length up to the end of its last complete line.
    complete_len: u64,
}

/// Creates `dir` and its missing parents with mode 0700.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::LogKey;
    use crate::merkle::leaf_hash;
    use renkei_core::Timestamp;

    fn head(size: u64) -> SignedTreeHead {
        LogKey::from_secret(&[3u8; 32]).sign(
            size,
            Timestamp::from_unix_micros(0),
            leaf_hash(&size.to_be_bytes()),
        )
    }

    #[test]
    fn heads_are_appended_only_when_they_grow_and_read_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let witness = Witness::new(dir.path().join("w/heads.jsonl"));
        assert_eq!(witness.latest().expect("no file yet"), None);
        assert!(witness.publish(&head(3)).expect("first"));
        assert!(!witness.publish(&head(3)).expect("same size"));
        assert!(!witness.publish(&head(2)).expect("smaller"));
        assert!(witness.publish(&head(7)).expect("larger"));
        assert_eq!(witness.latest().expect("reads"), Some(head(7)));
        let text = std::fs::read_to_string(witness.path()).expect("file");
        assert_eq!(text.lines().count(), 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode =
                |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
            assert_eq!(mode(witness.path()), 0o600);
            assert_eq!(mode(&dir.path().join("w")), 0o700);
        }
    }

    #[test]
    fn a_line_cut_short_is_skipped_and_a_bad_line_is_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("heads.jsonl");
        let full = serde_json::to_string(&head(4)).expect("json");
        std::fs::write(&path, format!("{full}\n{}", &full[..20])).expect("write");
        let witness = Witness::new(&path);
        assert_eq!(witness.latest().expect("cut line skipped"), Some(head(4)));
        assert!(
            witness
                .publish(&head(5))
                .expect("appends after the cut line")
        );
        assert_eq!(witness.latest().expect("reads"), Some(head(5)));

        let text = std::fs::read_to_string(&path).expect("file");
        assert_eq!(
            text,
            format!(
                "{full}\n{}\n",
                serde_json::to_string(&head(5)).expect("json")
            )
        );

        std::fs::write(&path, format!("{full}\nnot a head\n")).expect("write");
        let at = full.len() + 1;
        match witness.latest() {
            Err(
                e @ Error::Witness {
                    offset: Some(o), ..
                },
            ) if o == at as u64 => {
                assert!(e.to_string().contains(&format!("at byte {at}")), "{e}");
            }
            other => panic!("expected the line at byte {at} to be named, got {other:?}"),
        }
    }
}
