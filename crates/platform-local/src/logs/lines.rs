//! Cutting a replica's output into lines, for the log writer and the readers alike.

/// A line longer than this is handled in pieces rather than held in memory.
pub(crate) const MAX_LINE: usize = 64 * 1024;

/// Cuts bytes into lines, holding an unfinished last line until the rest arrives, and giving
/// a line that grows past `max` bytes in pieces of that size.
pub(crate) struct Lines {
    partial: Vec<u8>,
    max: usize,
}

impl Lines {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            partial: Vec::new(),
            max,
        }
    }

    pub(crate) fn feed(&mut self, mut bytes: &[u8], mut emit: impl FnMut(&[u8])) {
        while let Some(end) = bytes.iter().position(|&b| b == b'\n') {
            let (line, rest) = bytes.split_at(end);
            if self.partial.is_empty() && line.len() <= self.max {
                emit(trim_cr(line));
            } else {
                self.partial.extend_from_slice(line);
                self.emit_pieces(&mut emit);
                emit(trim_cr(&self.partial));
                self.partial.clear();
            }
            bytes = &rest[1..];
        }
        self.partial.extend_from_slice(bytes);
        self.emit_pieces(&mut emit);
    }

    /// Gives what is held of the unfinished line, if anything.
    pub(crate) fn finish(&mut self, emit: impl FnOnce(&[u8])) {
        if !self.partial.is_empty() {
            emit(&self.partial);
            self.partial.clear();
        }
    }

    /// Gives the held line's first `max` bytes while there are more than that.
    fn emit_pieces(&mut self, emit: &mut impl FnMut(&[u8])) {
        if self.partial.len() <= self.max {
            return;
        }
        let whole = self.partial.len() / self.max * self.max;
        let whole = if whole == self.partial.len() {
            whole - self.max
        } else {
            whole
        };
        for piece in self.partial[..whole].chunks(self.max) {
            emit(piece);
        }
        self.partial.drain(..whole);
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(max: usize, chunks: &[&str]) -> Vec<String> {
        let mut lines = Lines::new(max);
        let mut seen = Vec::new();
        for chunk in chunks {
            lines.feed(chunk.as_bytes(), |l| {
                seen.push(String::from_utf8_lossy(l).into_owned())
            });
        }
        lines.finish(|l| seen.push(format!("{} (unfinished)", String::from_utf8_lossy(l))));
        seen
    }

    #[test]
    fn lines_are_cut_at_newlines_across_chunks() {
        assert_eq!(
            lines_of(100, &["a\nb", "c\r\n", "", "d\n\ne"]),
            ["a", "bc", "d", "", "e (unfinished)"]
        );
    }

    #[test]
    fn a_long_line_comes_in_pieces_of_at_most_the_limit() {
        assert_eq!(
            lines_of(4, &["abcdefghij\n", "0123", "4567", "89\nxyz"]),
            [
                "abcd",
                "efgh",
                "ij",
                "0123",
                "4567",
                "89",
                "xyz (unfinished)"
            ]
        );
        assert_eq!(
            lines_of(4, &["abcd\n", "abcdefgh\n"]),
            ["abcd", "abcd", "efgh"]
        );
    }
}
