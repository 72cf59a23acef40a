//! A step's output as lines: bytes in, masked lines out, with workflow commands applied
//! (`commands`), and memory bounded by a line length cap whatever the step prints.

use std::borrow::Cow;

use crate::commands::{Commands, Shown};
use crate::mask::Masker;

/// Longer lines are cut into pieces of at most this many bytes.
pub const MAX_LINE: usize = 64 * 1024;

/// Assembles the lines of one output stream.
#[derive(Debug)]
pub struct LineBuffer {
    partial: Vec<u8>,
    cap: usize,
    commands: Commands,
}

impl Default for LineBuffer {
    fn default() -> Self {
        Self::with_cap(MAX_LINE)
    }
}

impl LineBuffer {
    pub fn with_cap(cap: usize) -> Self {
        Self {
            partial: Vec::new(),
            cap: cap.max(1),
            commands: Commands::default(),
        }
    }

    /// Feeds a chunk of output; `emit` gets each complete line, masked, without its newline.
    pub fn push(&mut self, chunk: &[u8], masker: &Masker, emit: &mut impl FnMut(&[u8])) {
        let mut rest = chunk;
        while let Some(nl) = memchr::memchr(b'\n', rest) {
            let (line, after) = rest.split_at(nl);
            if self.partial.is_empty() {
                complete(&mut self.commands, line, masker, emit);
            } else {
                self.partial.extend_from_slice(line);
                complete(&mut self.commands, &self.partial, masker, emit);
                self.partial.clear();
            }
            rest = &after[1..];
        }
        self.partial.extend_from_slice(rest);
        // A secret may straddle the cut, so each piece ends where no secret is cut through,
        // and the cap leaves room for the longest one.
        let cap = self.cap.max(masker.longest().saturating_mul(4));
        while self.partial.len() > cap {
            let mut at = masker.safe_split(&self.partial, cap);
            if at == 0 {
                at = cap;
            }
            emit(&masker.mask(&self.partial[..at]));
            self.partial.drain(..at);
        }
    }

    /// Emits what is left after the stream ends without a final newline.
    pub fn finish(&mut self, masker: &Masker, emit: &mut impl FnMut(&[u8])) {
        if !self.partial.is_empty() {
            complete(&mut self.commands, &self.partial, masker, emit);
            self.partial.clear();
        }
    }
}

/// A whole line: its command applied, then masked. A piece of a line cut for its length is
/// no command. An annotation's message may hold escaped line breaks: each of its lines is a
/// line of the log.
fn complete(commands: &mut Commands, line: &[u8], masker: &Masker, emit: &mut impl FnMut(&[u8])) {
    match commands.line(trim_cr(line), masker) {
        Shown::Line(Cow::Borrowed(line)) => emit(&masker.mask(line)),
        Shown::Line(Cow::Owned(made)) => {
            for piece in made.split(|&b| b == b'\n') {
                emit(&masker.mask(trim_cr(piece)));
            }
        }
        Shown::Hidden => {}
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(cap: usize, secrets: &[&str], chunks: &[&[u8]]) -> Vec<String> {
        let masker = Masker::new(secrets);
        let mut buffer = LineBuffer::with_cap(cap);
        let mut out = Vec::new();
        let mut emit = |l: &[u8]| out.push(String::from_utf8_lossy(l).into_owned());
        for c in chunks {
            buffer.push(c, &masker, &mut emit);
        }
        buffer.finish(&masker, &mut emit);
        out
    }

    #[test]
    fn lines_across_chunks() {
        assert_eq!(
            lines(100, &[], &[b"one\ntw", b"o\r\nthr", b"ee"]),
            ["one", "two", "three"]
        );
        assert_eq!(lines(100, &[], &[b"\n\n"]), ["", ""]);
    }

    #[test]
    fn secrets_split_across_chunks_are_masked() {
        assert_eq!(
            lines(100, &["hunter2"], &[b"pass: hun", b"ter2\n"]),
            ["pass: ***"]
        );
    }

    #[test]
    fn long_lines_are_cut_but_never_through_a_secret() {
        let out = lines(8, &["SECRET"], &[b"0123456SECRET89abcdef"]);
        assert_eq!(out.concat(), "0123456***89abcdef");
        assert!(
            out.iter().all(|l| !l.contains("SEC") || l.contains("***")),
            "{out:?}"
        );
        let long = vec![b'x'; 100];
        let out = lines(10, &[], &[&long]);
        assert_eq!(out.len(), 10);
        assert!(out.iter().all(|l| l.len() == 10));
    }
}
