//! Framing: one JSON object per line; the SDK's keep-alive is the single
//! byte 0x11, answered 0x12. The vendor's server writes `"\n" + json + "\r"`
//! and its Java peers read with `readLine`, which ends a line at `\n`, `\r`
//! or both: so does this framer. The vendor reads lines of at most 1 KiB;
//! onepark's limit is configurable (64 KiB by default): a longer line is
//! discarded up to its end and reported once.

/// The SDK's heartbeat and its answer.
pub const HEARTBEAT: u8 = 0x11;
pub const HEARTBEAT_REPLY: u8 = 0x12;
/// onepark's default longest line.
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;

/// What the bytes so far make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// One line without its end (`\n`, `\r` or both); empty lines are skipped.
    Line(Vec<u8>),
    Heartbeat,
    /// A line longer than the limit (its bytes dropped).
    TooLong {
        limit: usize,
    },
}

/// Splits a byte stream into frames.
#[derive(Debug)]
pub struct Framer {
    max_line: usize,
    buf: Vec<u8>,
    /// Inside an over-long line: dropping until its end.
    skipping: bool,
}

impl Framer {
    pub fn new(max_line: usize) -> Framer {
        Framer { max_line: max_line.max(1), buf: Vec::new(), skipping: false }
    }

    /// The frames `bytes` complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Frame> {
        let mut out = Vec::new();
        for &b in bytes {
            match b {
                b'\n' | b'\r' => {
                    if self.skipping {
                        self.skipping = false;
                    } else if let Some(line) = self.take_line() {
                        out.push(Frame::Line(line));
                    }
                    self.buf.clear();
                }
                // A heartbeat comes between lines (inside a JSON text it cannot be: a control byte).
                HEARTBEAT if self.buf.iter().all(u8::is_ascii_whitespace) && !self.skipping => {
                    self.buf.clear();
                    out.push(Frame::Heartbeat);
                }
                _ if self.skipping => {}
                _ => {
                    if self.buf.len() == self.max_line {
                        self.buf.clear();
                        self.skipping = true;
                        out.push(Frame::TooLong { limit: self.max_line });
                    } else {
                        self.buf.push(b);
                    }
                }
            }
        }
        out
    }

    fn take_line(&mut self) -> Option<Vec<u8>> {
        let mut line = std::mem::take(&mut self.buf);
        while line.last().is_some_and(|b| *b == b'\r' || *b == b' ' || *b == b'\t') {
            line.pop();
        }
        let start = line.iter().position(|b| !b.is_ascii_whitespace())?;
        Some(line.split_off(start))
    }

    /// Bytes held of an unfinished line.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// A message as the vendor's server writes it: `"\n" + json + "\r"`.
pub fn encode(json: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() + 2);
    out.push(b'\n');
    out.extend_from_slice(json.as_bytes());
    out.push(b'\r');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_heartbeats_and_the_servers_own_framing() {
        let mut f = Framer::new(64);
        let mut frames = f.push(b"\x11{\"a\":1}\r\n{\"b\"");
        frames.extend(f.push(b":2}\n\n\x11"));
        assert_eq!(
            frames,
            [
                Frame::Heartbeat,
                Frame::Line(b"{\"a\":1}".to_vec()),
                Frame::Line(b"{\"b\":2}".to_vec()),
                Frame::Heartbeat
            ]
        );
        let mut again = Framer::new(64);
        assert_eq!(again.push(&encode("{\"c\":3}")), [Frame::Line(b"{\"c\":3}".to_vec())], "\\r ends it, as readLine");
    }

    #[test]
    fn an_overlong_line_is_reported_once_and_the_next_one_reads() {
        let mut f = Framer::new(8);
        let frames = f.push(b"0123456789abcdef\n{\"ok\":1}\n");
        assert_eq!(frames, [Frame::TooLong { limit: 8 }, Frame::Line(b"{\"ok\":1}".to_vec())]);
        assert_eq!(f.pending(), 0);
    }
}
