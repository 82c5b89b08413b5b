//! A child's stdout and stderr (a run's or a worker's), read and turned into lines with bounds:
//! a line is cut at [`MAX_LINE`] bytes, a run logs at most [`LINES_PER_RUN`] lines, and all runs
//! of one configured script together at most [`LINES_PER_SECOND`] (limits of spec/spec.toml).
//! What is not logged is read and counted, never buffered: a script printing a gigabyte costs
//! reading time, not memory or disk.

pub use crate::limits::{LINES_PER_RUN, LINES_PER_SECOND, MAX_LINE};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// One output stream of a child, read without blocking.
pub struct Stream {
    fd: OwnedFd,
    /// stderr (else stdout).
    pub stderr: bool,
    lines: LineSplitter,
}

impl Stream {
    /// A child's stdout and stderr, in that order.
    pub fn pair(stdout: OwnedFd, stderr: OwnedFd) -> Vec<Stream> {
        vec![
            Stream { fd: stdout, stderr: false, lines: LineSplitter::default() },
            Stream { fd: stderr, stderr: true, lines: LineSplitter::default() },
        ]
    }

    /// The descriptor to poll for input.
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Read what the stream has now, at most 16 × 16 KiB per call (so that one flooding child
    /// cannot starve the others), `line(text, cut)` getting each complete line. Returns false at
    /// the end of the stream (or an error), after the last line without newline.
    pub fn read(&mut self, line: &mut impl FnMut(&[u8], bool)) -> bool {
        let mut buf = [0u8; 16384];
        for _ in 0..16 {
            // SAFETY: reads into our buffer from our own non-blocking descriptor.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                self.lines.feed(&buf[..n as usize], line);
                continue;
            }
            let open = n < 0 && matches!(io::Error::last_os_error().raw_os_error(), Some(libc::EAGAIN | libc::EINTR));
            if !open {
                self.lines.finish(line);
            }
            return open;
        }
        true
    }

    /// Close the stream, `line` getting its last line without newline.
    pub fn close(mut self, line: &mut impl FnMut(&[u8], bool)) {
        self.lines.finish(line);
    }
}

/// Splits one stream into lines.
#[derive(Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
    /// The current line was already cut at MAX_LINE: drop the rest until its end.
    cutting: bool,
}

impl LineSplitter {
    /// Feed bytes; `line` gets each complete (or cut) line, without its newline.
    pub fn feed(&mut self, mut data: &[u8], line: &mut impl FnMut(&[u8], bool)) {
        while !data.is_empty() {
            let end = data.iter().position(|&b| b == b'\n');
            let chunk = &data[..end.unwrap_or(data.len())];
            if !self.cutting {
                let room = MAX_LINE - self.partial.len();
                self.partial.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if chunk.len() > room {
                    line(&self.partial, true);
                    self.partial.clear();
                    self.cutting = true;
                }
            }
            match end {
                Some(i) => {
                    if !self.cutting {
                        line(&self.partial, false);
                    }
                    self.partial.clear();
                    self.cutting = false;
                    data = &data[i + 1..];
                }
                None => break,
            }
        }
    }

    /// End of stream: a last line without newline.
    pub fn finish(&mut self, line: &mut impl FnMut(&[u8], bool)) {
        if !self.partial.is_empty() {
            line(&self.partial, false);
        }
        self.partial.clear();
        self.cutting = false;
    }
}

/// A line as it goes to the log: valid UTF-8, control characters but tab as `\xNN`, `...` when cut.
pub fn render(line: &[u8], cut: bool) -> String {
    let text = String::from_utf8_lossy(line);
    let mut out = String::with_capacity(text.len() + 3);
    for c in text.chars() {
        if c.is_control() && c != '\t' {
            out.push_str(&format!("\\x{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    if cut {
        out.push_str("...");
    }
    out
}

/// One configured script's budget (all its runs): LINES_PER_SECOND, refilled every second.
pub struct RateLimit {
    window: Instant,
    used: u32,
    /// Lines refused since the last report.
    pub refused: u64,
}

impl RateLimit {
    pub fn new() -> Self {
        RateLimit { window: Instant::now(), used: 0, refused: 0 }
    }

    pub fn allow(&mut self, now: Instant) -> bool {
        if now.duration_since(self.window) >= Duration::from_secs(1) {
            self.window = now;
            self.used = 0;
        }
        if self.used < LINES_PER_SECOND {
            self.used += 1;
            true
        } else {
            self.refused += 1;
            false
        }
    }

    /// When the refused count should be reported (end of the current window), if any.
    pub fn report_due(&self) -> Option<Instant> {
        (self.refused > 0).then(|| self.window + Duration::from_secs(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(chunks: &[&[u8]]) -> Vec<(String, bool)> {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        let mut push = |l: &[u8], cut: bool| out.push((String::from_utf8_lossy(l).into_owned(), cut));
        for c in chunks {
            s.feed(c, &mut push);
        }
        s.finish(&mut push);
        out
    }

    #[test]
    fn splits_across_chunks_and_keeps_a_last_unterminated_line() {
        assert_eq!(
            lines(&[b"a\nb", b"c\n\nd"]),
            vec![("a".into(), false), ("bc".into(), false), ("".into(), false), ("d".into(), false)]
        );
    }

    #[test]
    fn cuts_long_lines_once_and_resumes_at_the_next() {
        let long = vec![b'x'; 3 * MAX_LINE];
        let got = lines(&[&long[..700], &long[700..], b"\nnext\n"]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0.len(), MAX_LINE);
        assert!(got[0].1);
        assert_eq!(got[1], ("next".into(), false));
    }

    #[test]
    fn renders_control_bytes_and_invalid_utf8_safely() {
        assert_eq!(render(b"a\x1b[31mb\x00\tc\xff", false), "a\\x1B[31mb\\x00\tc\u{FFFD}");
        assert_eq!(render(b"abc", true), "abc...");
    }

    #[test]
    fn rate_limit_counts_what_it_refuses() {
        let mut r = RateLimit::new();
        let now = Instant::now();
        let allowed = (0..LINES_PER_SECOND + 5).filter(|_| r.allow(now)).count();
        assert_eq!(allowed as u32, LINES_PER_SECOND);
        assert_eq!(r.refused, 5);
        assert!(r.report_due().is_some());
        assert!(r.allow(now + Duration::from_millis(1001)));
    }
}
