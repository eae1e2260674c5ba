//! Reading a submission's body: gzip or not, NDJSON or one JSON document,
//! told apart by content, streamed so that a multi-GB body is never held in
//! memory.
//!
//! Every read is bounded ([`crate::Limits`]): a line is read at most one
//! byte past `max_line_bytes` and then refused (413), never read whole and
//! checked after; a document at most to `max_document_bytes`; gzip is
//! counted as it inflates, against `max_decompressed_bytes` and
//! `max_gzip_ratio`. The first bytes decide UTF-16, and every line or
//! document must be UTF-8, else the body is refused once, naming the
//! encoding it looks like.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use async_compression::tokio::bufread::GzipDecoder;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, BufReader, ReadBuf};

use crate::encoding;
use crate::limits::{Limit, Limits, RATIO_GRACE_BYTES};
use crate::{Error, Result};

/// One unit of input.
#[derive(Debug)]
pub(crate) enum Item {
    /// One NDJSON line (1-based), without its newline.
    Line { line: u64, bytes: Vec<u8> },
    /// The whole body, a single JSON document (a resource or a Bundle).
    Document(Vec<u8>),
}

impl Item {
    fn len(&self) -> usize {
        match self {
            Item::Line { bytes, .. } | Item::Document(bytes) => bytes.len(),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Mode {
    Undecided,
    Ndjson,
    Done,
}

/// How a bounded line read ended.
#[derive(Debug, PartialEq, Eq)]
enum LineEnd {
    Newline,
    Eof,
    /// More than the limit without a newline; the buffer holds the limit
    /// plus one byte.
    Over,
}

type Reader = BufReader<Box<dyn AsyncRead + Unpin + Send>>;

/// A body being read.
pub(crate) struct Source {
    reader: Reader,
    hasher: Sha256,
    bytes: u64,
    line: u64,
    mode: Mode,
    limits: Limits,
    /// Compressed bytes the gzip decoder has taken, when the body is gzip.
    compressed: Option<Arc<AtomicU64>>,
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
const UTF8_BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

impl Source {
    /// Starts reading `body`, decoding gzip if it starts with gzip's magic
    /// bytes.
    pub(crate) async fn open<R>(body: R, limits: Limits) -> Result<Self>
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        let mut raw = BufReader::with_capacity(256 * 1024, body);
        let head = raw
            .fill_buf()
            .await
            .map_err(|e| incomplete("the start", &e))?;
        let mut compressed = None;
        let inner: Box<dyn AsyncRead + Unpin + Send> = if head.starts_with(&GZIP_MAGIC) {
            let taken = Arc::new(AtomicU64::new(0));
            compressed = Some(taken.clone());
            let mut decoder = GzipDecoder::new(Counted { inner: raw, taken });
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
            limits,
            compressed,
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

    /// The next items, up to `max_items` or about `max_bytes` (one line
    /// more at most); empty at the end.
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
                    size += item.len();
                    out.push(item);
                }
                None => break,
            }
        }
        Ok(out)
    }

    async fn next_item(&mut self) -> Result<Option<Item>> {
        if self.mode == Mode::Undecided && self.line == 0 {
            self.refuse_utf16().await?;
        }
        loop {
            if self.mode == Mode::Done {
                return Ok(None);
            }
            let mut bytes = Vec::new();
            let end = self.read_line(&mut bytes).await?;
            if end == LineEnd::Eof && bytes.is_empty() {
                self.mode = Mode::Done;
                return Ok(None);
            }
            self.line += 1;
            let line = self.line;
            if end == LineEnd::Over {
                if self.mode == Mode::Undecided {
                    // A first line this long is no NDJSON line: the body is
                    // one document (a Bundle written on one line).
                    self.mode = Mode::Done;
                    return self.read_document(bytes).await.map(Some);
                }
                return Err(Error::TooLarge {
                    at: format!("line {line}"),
                    limit: Limit::LineBytes,
                    max: self.limits.max_line_bytes as u64,
                });
            }
            let terminated = end == LineEnd::Newline;
            let trimmed = trim(&bytes);
            if trimmed.is_empty() {
                continue;
            }
            if let Err(e) = std::str::from_utf8(trimmed) {
                return Err(not_utf8(&format!("line {line}"), trimmed, &e));
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

    /// UTF-16 has NUL bytes beside ASCII, which are valid UTF-8 and would
    /// reach the parser as garbage: refuse it by its first bytes.
    async fn refuse_utf16(&mut self) -> Result<()> {
        let head = self
            .reader
            .fill_buf()
            .await
            .map_err(|e| incomplete("the start", &e))?;
        match encoding::utf16(head) {
            Some(likely) => Err(Error::NotUtf8 {
                at: "the start".to_owned(),
                likely,
            }),
            None => Ok(()),
        }
    }

    /// Appends the next line, newline included, to `buf`, reading at most
    /// one byte past `max_line_bytes`.
    async fn read_line(&mut self, buf: &mut Vec<u8>) -> Result<LineEnd> {
        let max = self.limits.max_line_bytes;
        loop {
            let at = self.line + 1;
            let available = self
                .reader
                .fill_buf()
                .await
                .map_err(|e| incomplete(&format!("line {at}"), &e))?;
            if available.is_empty() {
                return Ok(LineEnd::Eof);
            }
            let newline = available.iter().position(|&b| b == b'\n');
            let content = newline.unwrap_or(available.len());
            let room = max.saturating_sub(buf.len());
            let (n, end) = if content > room {
                // One byte past the limit proves it, and keeps the start of
                // what may be a one-line document.
                (room + 1, Some(LineEnd::Over))
            } else {
                match newline {
                    Some(i) => (i + 1, Some(LineEnd::Newline)),
                    None => (available.len(), None),
                }
            };
            let start = buf.len();
            buf.extend_from_slice(&available[..n]);
            self.consume(n, &buf[start..])?;
            if let Some(end) = end {
                return Ok(end);
            }
        }
    }

    /// Takes `n` bytes (`taken`) off the reader: hashes and counts them,
    /// and checks gzip's inflation.
    fn consume(&mut self, n: usize, taken: &[u8]) -> Result<()> {
        self.hasher.update(taken);
        self.reader.consume(n);
        self.bytes += n as u64;
        let Some(compressed) = &self.compressed else {
            return Ok(());
        };
        let max = self.limits.max_decompressed_bytes;
        if self.bytes > max {
            return Err(Error::TooLarge {
                at: "the gzip body".to_owned(),
                limit: Limit::DecompressedBytes,
                max,
            });
        }
        let ratio = self.limits.max_gzip_ratio;
        let compressed = compressed.load(Ordering::Relaxed).max(1);
        if self.bytes > RATIO_GRACE_BYTES && self.bytes > compressed.saturating_mul(ratio) {
            return Err(Error::TooLarge {
                at: format!(
                    "the gzip body ({compressed} compressed bytes inflated to {})",
                    self.bytes
                ),
                limit: Limit::GzipRatio,
                max: ratio,
            });
        }
        Ok(())
    }

    /// Reads the rest of the body after `doc`, the document's start, up to
    /// `max_document_bytes` in all.
    async fn read_document(&mut self, mut doc: Vec<u8>) -> Result<Item> {
        let limit = self.limits.max_document_bytes;
        let over = || {
            Error::TooLarge {
            at: "the document (a single JSON document; send large data as NDJSON, one resource per line)".to_owned(),
            limit: Limit::DocumentBytes,
            max: limit as u64,
        }
        };
        if doc.len() > limit {
            return Err(over());
        }
        loop {
            let available = self
                .reader
                .fill_buf()
                .await
                .map_err(|e| incomplete("the document", &e))?;
            if available.is_empty() {
                break;
            }
            if available.len() > limit - doc.len() {
                return Err(over());
            }
            let n = available.len();
            let start = doc.len();
            doc.extend_from_slice(available);
            self.consume(n, &doc[start..])?;
        }
        let body = trim(&doc);
        if body.is_empty() {
            return Err(Error::NotFhir("the body is empty".to_owned()));
        }
        if let Err(e) = std::str::from_utf8(body) {
            return Err(not_utf8("the document", body, &e));
        }
        Ok(Item::Document(doc))
    }
}

fn not_utf8(at: &str, bytes: &[u8], e: &std::str::Utf8Error) -> Error {
    let from = e.valid_up_to();
    let sample = &bytes[from..bytes.len().min(from + 4096)];
    Error::NotUtf8 {
        at: format!("{at}, byte {}", from + 1),
        likely: encoding::guess_body(bytes, sample),
    }
}

fn incomplete(at: &str, e: &std::io::Error) -> Error {
    Error::Incomplete {
        at: at.to_owned(),
        reason: e.to_string(),
    }
}

/// `bytes` without surrounding whitespace and a leading UTF-8 byte order
/// mark (as some Windows tools write).
pub(crate) fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    let s = &bytes[start..end];
    match s.strip_prefix(&UTF8_BOM) {
        Some(rest) => trim(rest),
        None => s,
    }
}

/// A buffered reader that counts the bytes taken from it: the compressed
/// bytes the gzip decoder has consumed, for the inflation ratio.
struct Counted<R> {
    inner: R,
    taken: Arc<AtomicU64>,
}

impl<R: AsyncBufRead + Unpin> AsyncRead for Counted<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.taken.fetch_add(n as u64, Ordering::Relaxed);
        poll
    }
}

impl<R: AsyncBufRead + Unpin> AsyncBufRead for Counted<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<&[u8]>> {
        Pin::new(&mut self.get_mut().inner).poll_fill_buf(cx)
    }

    fn consume(mut self: Pin<&mut Self>, amt: usize) {
        self.taken.fetch_add(amt as u64, Ordering::Relaxed);
        Pin::new(&mut self.inner).consume(amt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_document_bytes: 1 << 20,
            ..Limits::default()
        }
    }

    async fn items(body: &'static [u8]) -> Result<Vec<Item>> {
        let mut s = Source::open(body, limits()).await?;
        s.next_chunk(usize::MAX, usize::MAX).await
    }

    #[tokio::test]
    async fn ndjson_lines_are_numbered_and_blank_lines_skipped() {
        let got = items(b"\xEF\xBB\xBF{\"a\":1}\n\n{\"b\":2}\n")
            .await
            .expect("reads");
        let lines: Vec<(u64, &[u8])> = got
            .iter()
            .map(|i| match i {
                Item::Line { line, bytes } => (*line, bytes.as_slice()),
                Item::Document(_) => (0, &b""[..]),
            })
            .collect();
        assert_eq!(lines, [(1, &b"{\"a\":1}"[..]), (3, &b"{\"b\":2}"[..])]);
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
        let mut a = Source::open(std::io::Cursor::new(gz.clone()), limits())
            .await
            .expect("open");
        assert_eq!(a.next_chunk(10, 1 << 20).await.expect("read").len(), 1);
        let mut b = Source::open(std::io::Cursor::new(plain), limits())
            .await
            .expect("open");
        b.next_chunk(10, 1 << 20).await.expect("read");
        assert_eq!(a.content_sha256(), b.content_sha256());
        // Broken gzip: the body is truncated mid-stream.
        let mut c = Source::open(std::io::Cursor::new(gz[..gz.len() - 6].to_vec()), limits())
            .await
            .expect("open");
        let err = c.next_chunk(10, 1 << 20).await.expect_err("truncated gzip");
        assert!(matches!(err, Error::Incomplete { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_document_over_the_limit_is_refused() {
        let limits = Limits {
            max_document_bytes: 8,
            ..Limits::default()
        };
        let mut s = Source::open(&b"{\n \"x\": \"0123456789\"\n}"[..], limits)
            .await
            .expect("open");
        let err = s.next_chunk(10, 100).await.expect_err("too large");
        assert!(
            matches!(
                err,
                Error::TooLarge {
                    limit: Limit::DocumentBytes,
                    max: 8,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn shift_jis_and_utf16_are_refused_once_naming_the_encoding() {
        let err = items(b"{\"a\":1}\n{\"family\":\"\x8eR\x93c\"}\n")
            .await
            .expect_err("shift_jis");
        let text = err.to_string();
        assert!(
            text.contains("line 2") && text.contains("iconv -f CP932 -t UTF-8"),
            "{text}"
        );
        let err = items(b"\xFF\xFE{\0\"\0a\0\"\0:\x001\0}\0\n\0")
            .await
            .expect_err("utf-16");
        assert!(
            matches!(
                err,
                Error::NotUtf8 {
                    likely: crate::encoding::Encoding::Utf16Le,
                    ..
                }
            ),
            "{err}"
        );
    }
}
