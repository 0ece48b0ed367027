//! Gzip decoding that never loses what it decoded before damage.
//!
//! `flate2`'s `MultiGzDecoder` returns a data error from the same `read` that
//! decoded the good bytes before it, and those bytes are lost: a file with three
//! good records and then corrupt deflate data read as none. [`Gunzip`] drives
//! [`Decompress`] (zlib's own gzip mode: header, CRC-32 and length checked) with the
//! reader's buffers, hands out every byte produced before the damage, and reports
//! the damage on the next `read`, with the real positions: the compressed bytes
//! consumed and the bytes decoded.

use std::cell::Cell;
use std::io::{self, BufRead, Read};
use std::rc::Rc;

use flate2::{Decompress, FlushDecompress, Status};

/// zlib's largest window; gzip members written by anything use at most this.
const WINDOW_BITS: u8 = 15;

/// Decodes one or more gzip members from `src`.
pub struct Gunzip<R> {
    src: R,
    z: Decompress,
    /// Compressed bytes consumed by the members before the current one.
    before: u64,
    /// Compressed bytes consumed so far, shared with whoever reports errors.
    consumed: Rc<Cell<u64>>,
    /// The current member ended; another may follow.
    member_done: bool,
    /// Damage found after the bytes already handed out: returned by the next read.
    pending: Option<io::Error>,
}

impl<R: BufRead> Gunzip<R> {
    pub fn new(src: R, consumed: Rc<Cell<u64>>) -> Self {
        Gunzip {
            src,
            z: Decompress::new_gzip(WINDOW_BITS),
            before: 0,
            consumed,
            member_done: false,
            pending: None,
        }
    }

    fn position(&self) -> u64 {
        self.before + self.z.total_in()
    }
}

impl<R: BufRead> Read for Gunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        loop {
            if self.member_done {
                if self.src.fill_buf()?.is_empty() {
                    return Ok(0);
                }
                // Another member follows (CloudTrail writes one; concatenations exist).
                self.before = self.position();
                self.z = Decompress::new_gzip(WINDOW_BITS);
                self.member_done = false;
            }
            let input = self.src.fill_buf()?;
            let eof = input.is_empty();
            let (in0, out0) = (self.z.total_in(), self.z.total_out());
            let result = self.z.decompress(input, buf, FlushDecompress::None);
            let consumed = (self.z.total_in() - in0) as usize;
            let produced = (self.z.total_out() - out0) as usize;
            self.src.consume(consumed);
            self.consumed.set(self.position());
            let damage = match result {
                Ok(Status::StreamEnd) => {
                    self.member_done = true;
                    None
                }
                Ok(_) if produced > 0 || consumed > 0 => None,
                Ok(_) if eof => Some(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the gzip stream ends early (truncated file)",
                )),
                // No progress with input and room for output: zlib is stuck.
                Ok(_) => Some(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the gzip stream makes no progress",
                )),
                Err(e) => Some(io::Error::new(
                    io::ErrorKind::InvalidData,
                    e.message().unwrap_or("corrupt deflate stream").to_owned(),
                )),
            };
            match (produced, damage) {
                (0, Some(e)) => return Err(e),
                (n, Some(e)) => {
                    self.pending = Some(e);
                    return Ok(n);
                }
                (0, None) => continue,
                (n, None) => return Ok(n),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).expect("write");
        e.finish().expect("finish")
    }

    fn gunzip(data: &[u8]) -> (Vec<u8>, Option<io::Error>, u64) {
        let consumed = Rc::new(Cell::new(0));
        let mut g = Gunzip::new(data, consumed.clone());
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match g.read(&mut buf) {
                Ok(0) => return (out, None, consumed.get()),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return (out, Some(e), consumed.get()),
            }
        }
    }

    #[test]
    fn members_and_their_sizes() {
        let mut data = gz(b"hello ");
        data.extend(gz(b"world"));
        let (out, err, consumed) = gunzip(&data);
        assert_eq!(out, b"hello world");
        assert!(err.is_none(), "{err:?}");
        assert_eq!(consumed, data.len() as u64);
    }

    #[test]
    fn bytes_before_damage_are_handed_out() {
        // A sync flush puts the first part on a byte boundary; garbage follows.
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(&[b'a'; 5000]).expect("write");
        e.flush().expect("flush");
        let mut data = e.get_ref().clone();
        let good = data.len();
        data.extend_from_slice(&[0xff; 64]);
        let (out, err, consumed) = gunzip(&data);
        assert_eq!(out.len(), 5000);
        assert!(err.is_some());
        assert!(consumed >= good as u64 && consumed <= data.len() as u64);
    }

    #[test]
    fn truncation_is_unexpected_eof() {
        let data = gz(&[b'x'; 100]);
        let (out, err, _) = gunzip(&data[..data.len() - 4]);
        assert_eq!(out.len(), 100);
        assert_eq!(err.expect("error").kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn a_wrong_crc_is_damage() {
        let mut data = gz(b"some text");
        let n = data.len();
        data[n - 8] ^= 1;
        let (_, err, _) = gunzip(&data);
        assert!(err.is_some());
    }
}
