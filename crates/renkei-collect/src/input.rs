//! Reading a submission's body: gzip or not, NDJSON or one JSON document,
//! told apart by content, streamed so that a multi-GB body is never held in
//! memory (only a single JSON document is, up to a limit).

use async_compression::tokio::bufread::GzipDecoder;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

use crate::{Error, Result};

/// One unit of input.
#[derive(Debug)]
pub(crate) enum Item {
    /// One NDJSON line (1-based), without its newline.
    Line { line: u64, bytes: Vec<u8> },
    /// The whole body, a single JSON document (a resource or a Bundle).
    Document(Vec<u8>),
}

#[derive(Debug, PartialEq, Eq)]
enum Mode {
    Undecided,
    Ndjson,
    Done,
}

type Reader = BufReader<Box<dyn AsyncRead + Unpin + Send>>;

/// A body being read.
pub(crate) struct Source {
    reader: Reader,
    hasher: Sha256,
    bytes: u64,
    line: u64,
    mode: Mode,
    max_document: usize,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("bytes", &self.bytes)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

impl Source {
    /// Starts reading `body`, decoding gzip if it starts with gzip's magic
    /// bytes.
    pub(crate) async fn open<R>(body: R, max_document: usize) -> Result<Self>
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        let mut raw = BufReader::with_capacity(256 * 1024, body);
        let head = raw
            .fill_buf()
            .await
            .map_err(|e| incomplete("the start", &e))?;
        let inner: Box<dyn AsyncRead + Unpin + Send> = if head.starts_with(&GZIP_MAGIC) {
            let mut decoder = GzipDecoder::new(raw);
            // `gzip -c a b > c` and parallel compressors write several members.
            decoder.multiple_members(true);
            Box::new(decoder)
        } else {
            Box::new(raw)
        };
        Ok(Self {
            reader: BufReader::with_capacity(256 * 1024, inner),
            hasher: Sha256::new(),
            bytes: 0,
            line: 0,
            mode: Mode::Undecided,
            max_document,
        })
    }

    /// The SHA-256 of everything read so far (after gzip decoding).
    pub(crate) fn content_sha256(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }

    /// Bytes read so far (after gzip decoding).
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The next items, up to `max_items` or about `max_bytes`; empty at the
    /// end.
    pub(crate) async fn next_chunk(
        &mut self,
        max_items: usize,
        max_bytes: usize,
    ) -> Result<Vec<Item>> {
        let mut out = Vec::new();
        let mut size = 0;
        while out.len() < max_items && size < max_bytes {
            match self.next_item().await? {
                Some(item) => {
                    size += match &item {
                        Item::Line { bytes, .. } | Item::Document(bytes) => bytes.len(),
                    };
                    out.push(item);
                }
                None => break,
            }
        }
        Ok(out)
    }

    async fn next_item(&mut self) -> Result<Option<Item>> {
        loop {
            match self.mode {
                Mode::Done => return Ok(None),
                Mode::Undecided | Mode::Ndjson => {}
            }
            let Some((bytes, terminated)) = self.read_line().await? else {
                self.mode = Mode::Done;
                return Ok(None);
            };
            let line = self.line;
            let trimmed = trim(&bytes);
            if trimmed.is_empty() {
                continue;
            }
            // Whether the line is complete JSON matters only for the first
            // line (NDJSON or one document?) and an unterminated last one;
            // other lines are parsed once, by `process`.
            let complete = || serde_json::from_slice::<serde::de::IgnoredAny>(trimmed).is_ok();
            if self.mode == Mode::Undecided {
                if complete() {
                    self.mode = Mode::Ndjson;
                } else {
                    // Not one resource per line: the body is one document
                    // (a pretty-printed resource or Bundle).
                    self.mode = Mode::Done;
                    return self.read_document(bytes).await.map(Some);
                }
            }
            if !terminated && !complete() {
                return Err(Error::Incomplete {
                    at: format!("line {line}"),
                    reason: "the last line has no newline and is not complete JSON: the stream was cut off".to_owned(),
                });
            }
            return Ok(Some(Item::Line {
                line,
                bytes: trimmed.to_vec(),
            }));
        }
    }

    /// The next line and whether it ended with a newline; `None` at the end.
    async fn read_line(&mut self) -> Result<Option<(Vec<u8>, bool)>> {
        let mut buf = Vec::new();
        let n = self
            .reader
            .read_until(b'\n', &mut buf)
            .await
            .map_err(|e| incomplete(&format!("line {}", self.line + 1), &e))?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        self.bytes += n as u64;
        self.hasher.update(&buf);
        let terminated = buf.last() == Some(&b'\n');
        if terminated {
            buf.pop();
        }
        Ok(Some((buf, terminated)))
    }

    async fn read_document(&mut self, mut first: Vec<u8>) -> Result<Item> {
        first.push(b'\n');
        let limit = self.max_document;
        let mut rest = Vec::new();
        let mut limited = (&mut self.reader).take((limit + 1) as u64);
        limited
            .read_to_end(&mut rest)
            .await
            .map_err(|e| incomplete("the document", &e))?;
        self.bytes += rest.len() as u64;
        self.hasher.update(&rest);
        first.extend_from_slice(&rest);
        if first.len() > limit {
            return Err(Error::DocumentTooLarge { limit });
        }
        Ok(Item::Document(first))
    }
}

fn incomplete(at: &str, e: &std::io::Error) -> Error {
    Error::Incomplete {
        at: at.to_owned(),
        reason: e.to_string(),
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    // A UTF-8 byte order mark at the very start, as some Windows tools write.
    let s = &bytes[start..end];
    s.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn items(body: &'static [u8]) -> Result<Vec<Item>> {
        let mut s = Source::open(body, 1 << 20).await?;
        s.next_chunk(usize::MAX, usize::MAX).await
    }

    #[tokio::test]
    async fn ndjson_lines_are_numbered_and_blank_lines_skipped() {
        let got = items(b"{\"a\":1}\n\n{\"b\":2}\n").await.expect("reads");
        let lines: Vec<u64> = got
            .iter()
            .map(|i| match i {
                Item::Line { line, .. } => *line,
                Item::Document(_) => 0,
            })
            .collect();
        assert_eq!(lines, [1, 3]);
    }

    #[tokio::test]
    async fn a_pretty_printed_resource_is_one_document() {
        let got = items(b"{\n  \"resourceType\": \"Patient\"\n}\n")
            .await
            .expect("reads");
        assert!(matches!(got.as_slice(), [Item::Document(d)] if d.starts_with(b"{")));
    }

    #[tokio::test]
    async fn a_cut_last_line_fails_the_whole_body() {
        let err = items(b"{\"a\":1}\n{\"b\":").await.expect_err("cut off");
        assert!(err.to_string().contains("line 2"), "{err}");
        // A complete last line without newline is fine.
        assert_eq!(items(b"{\"a\":1}\n{\"b\":2}").await.expect("fine").len(), 2);
    }

    #[tokio::test]
    async fn gzip_is_decoded_and_hashed_after_decoding() {
        use std::io::Write;
        let plain = b"{\"a\":1}\n".to_vec();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain).expect("gzip");
        let gz = gz.finish().expect("gzip");
        let mut a = Source::open(std::io::Cursor::new(gz.clone()), 1 << 20)
            .await
            .expect("open");
        assert_eq!(a.next_chunk(10, 1 << 20).await.expect("read").len(), 1);
        let mut b = Source::open(std::io::Cursor::new(plain), 1 << 20)
            .await
            .expect("open");
        b.next_chunk(10, 1 << 20).await.expect("read");
        assert_eq!(a.content_sha256(), b.content_sha256());
        // Broken gzip: the body is truncated mid-stream.
        let mut c = Source::open(std::io::Cursor::new(gz[..gz.len() - 6].to_vec()), 1 << 20)
            .await
            .expect("open");
        let err = c.next_chunk(10, 1 << 20).await.expect_err("truncated gzip");
        assert!(matches!(err, Error::Incomplete { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_document_over_the_limit_is_refused() {
        let mut s = Source::open(&b"{\n \"x\": \"0123456789\"\n}"[..], 8)
            .await
            .expect("open");
        let err = s.next_chunk(10, 100).await.expect_err("too large");
        assert!(matches!(err, Error::DocumentTooLarge { limit: 8 }), "{err}");
    }
}
