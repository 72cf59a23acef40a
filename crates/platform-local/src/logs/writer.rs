//! The log writer: reads a replica's output from a pipe, stamps each line with the time it
//! arrived, appends it to the replica's log file, and rotates the file once it is past its
//! size (copied to `x.log.1`, then truncated: the readers follow that). Being the file's only
//! writer, it rotates between two writes and loses nothing.

use std::io::{self, Read, Write};
use std::path::Path;
use std::time::SystemTime;

use super::lines::{Lines, MAX_LINE};
use super::stamp;

/// When a log file is rotated, and how many rotated files are kept.
#[derive(Clone, Copy, Debug)]
pub struct Rotation {
    pub max_bytes: u64,
    pub keep: u32,
}

/// Copies `input` to the log at `path`, line by line, until `input` ends (every process that
/// could write to it has exited). A line shows once it ends, or in pieces once it is too long
/// to hold, so a stamped line always fits a reader's line.
pub fn write_log(mut input: impl Read, path: &Path, rotation: Rotation) -> io::Result<()> {
    let mut file = super::open(path)?;
    let mut lines = Lines::new(MAX_LINE - stamp::LEN);
    let mut buffer = vec![0; 64 * 1024];
    let mut out = Vec::new();
    loop {
        let n = match input.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let now = stamp::at(SystemTime::now());
        lines.feed(&buffer[..n], |line| stamp::write(&mut out, &now, line));
        append(&mut file, &mut out, path, rotation)?;
    }
    let now = stamp::at(SystemTime::now());
    lines.finish(|line| stamp::write(&mut out, &now, line));
    append(&mut file, &mut out, path, rotation)
}

fn append(
    file: &mut std::fs::File,
    out: &mut Vec<u8>,
    path: &Path,
    rotation: Rotation,
) -> io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    file.write_all(out)?;
    out.clear();
    super::rotate_if_large(path, rotation.max_bytes, rotation.keep)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_stamped_in_order_and_rotation_keeps_every_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        let (reader, mut writer) = io::pipe().unwrap();
        let rotation = Rotation {
            max_bytes: 4_000,
            keep: 10,
        };
        let copy = {
            let path = path.clone();
            std::thread::spawn(move || write_log(reader, &path, rotation))
        };
        for n in 0..200 {
            writeln!(writer, "line {n}").unwrap();
        }
        write!(writer, "unfinished").unwrap();
        drop(writer);
        copy.join().unwrap().unwrap();

        let mut files: Vec<_> = (1..=10)
            .rev()
            .map(|n| dir.path().join(format!("0.log.{n}")))
            .filter(|p| p.exists())
            .collect();
        assert!(!files.is_empty(), "never rotated");
        files.push(path);
        let mut seen = Vec::new();
        let mut last = None;
        for file in files {
            for line in std::fs::read(&file).unwrap().split(|&b| b == b'\n') {
                if line.is_empty() {
                    continue;
                }
                let (time, text) = stamp::parse(line);
                let time = time.unwrap_or_else(|| panic!("unstamped: {line:?}"));
                assert!(last <= Some(time));
                last = Some(time);
                seen.push(String::from_utf8(text.to_vec()).unwrap());
            }
        }
        let expected: Vec<String> = (0..200)
            .map(|n| format!("line {n}"))
            .chain(["unfinished".to_owned()])
            .collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn a_long_line_is_written_in_pieces_a_reader_takes_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        let long = vec![b'x'; MAX_LINE * 2 + 10];
        let rotation = Rotation {
            max_bytes: u64::MAX,
            keep: 0,
        };
        write_log(&[long.as_slice(), b"\n"].concat()[..], &path, rotation).unwrap();
        let text = std::fs::read(&path).unwrap();
        let pieces: Vec<&[u8]> = text
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(pieces.len(), 3);
        assert!(pieces.iter().all(|p| p.len() <= MAX_LINE));
        let joined: Vec<u8> = pieces
            .iter()
            .flat_map(|p| stamp::parse(p).1)
            .copied()
            .collect();
        assert_eq!(joined, long);
    }
}
