//! Reading one replica's log files as lines: what is there (optionally only the last N lines),
//! then what is appended. Logs rotate by copying `x.log` to `x.log.1` and truncating it, so a
//! follower that sees a new `x.log.1` reads its end from where it was in `x.log`, then `x.log`
//! from the start.

use std::collections::VecDeque;
use std::io::SeekFrom;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use bellwether_core::platform::LogLine;
use bellwether_core::rollout::RevisionNumber;
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::mpsc;

use super::files::ReplicaFiles;
use super::lines::{Lines, MAX_LINE};
use super::stamp;

/// Lines are sent in batches of about this many bytes.
const CHUNK: usize = 64 * 1024;

/// The reader went away.
pub(super) struct Gone;

/// The reader's side of the channel, with the lines not sent yet.
pub(super) struct Output {
    sender: mpsc::Sender<Vec<LogLine>>,
    batch: Vec<LogLine>,
    bytes: usize,
}

impl Output {
    pub(super) fn new(sender: mpsc::Sender<Vec<LogLine>>) -> Self {
        Self {
            sender,
            batch: Vec::new(),
            bytes: 0,
        }
    }

    fn push(&mut self, revision: RevisionNumber, index: u32, line: &[u8]) {
        let (time, text) = stamp::parse(line);
        self.bytes += text.len();
        self.batch.push(LogLine {
            revision,
            index,
            time,
            text: text.to_vec(),
        });
    }

    async fn flush_if_full(&mut self) -> Result<(), Gone> {
        if self.bytes >= CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    pub(super) async fn flush(&mut self) -> Result<(), Gone> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.bytes = 0;
        let batch = std::mem::take(&mut self.batch);
        self.sender.send(batch).await.map_err(|_| Gone)
    }

    pub(super) async fn closed(&self) {
        self.sender.closed().await;
    }
}

/// Tells one `x.log.1` from the next: a rotation makes a new file.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Signature {
    inode: u64,
    len: u64,
    modified: i64,
    modified_ns: i64,
}

async fn signature(path: &Path) -> Option<Signature> {
    let meta = tokio::fs::metadata(path).await.ok()?;
    Some(Signature {
        inode: meta.ino(),
        len: meta.len(),
        modified: meta.mtime(),
        modified_ns: meta.mtime_nsec(),
    })
}

/// One replica's log as it is followed.
pub(super) struct ReplicaLog {
    revision: RevisionNumber,
    index: u32,
    pub(super) live: PathBuf,
    rotated: Vec<PathBuf>,
    /// How far `live` has been read.
    offset: u64,
    /// `x.log.1` as last seen.
    rotation: Option<Signature>,
    lines: Lines,
}

impl ReplicaLog {
    pub(super) fn new(files: ReplicaFiles) -> Self {
        Self {
            revision: files.revision,
            index: files.index,
            live: files.live,
            rotated: files.rotated,
            offset: 0,
            rotation: None,
            lines: Lines::new(MAX_LINE),
        }
    }

    fn first_rotation(&self) -> PathBuf {
        let mut name = self.live.clone().into_os_string();
        name.push(".1");
        PathBuf::from(name)
    }

    /// Sends every complete line there is now, or the last `tail` of them.
    pub(super) async fn read_existing(&mut self, tail: Option<usize>, out: &mut Output) {
        self.rotation = signature(&self.first_rotation()).await;
        let mut kept: VecDeque<Vec<u8>> = VecDeque::new();
        let files: Vec<PathBuf> = self.rotated.iter().chain([&self.live]).cloned().collect();
        for path in files {
            let mut reader = Reader::open(&path, 0).await;
            while let Some(chunk) = reader.next().await {
                match tail {
                    Some(n) => self.lines.feed(chunk, |line| {
                        if n > 0 {
                            if kept.len() == n {
                                kept.pop_front();
                            }
                            kept.push_back(line.to_vec());
                        }
                    }),
                    None => {
                        self.lines
                            .feed(chunk, |line| out.push(self.revision, self.index, line));
                        if out.flush_if_full().await.is_err() {
                            return;
                        }
                    }
                }
            }
            if path == self.live {
                self.offset = reader.read;
            }
        }
        for line in kept {
            out.push(self.revision, self.index, &line);
        }
    }

    /// Sends the lines written since the last read.
    pub(super) async fn read_new(&mut self, out: &mut Output) {
        let Some(live) = signature(&self.live).await else {
            return;
        };
        let rotation = signature(&self.first_rotation()).await;
        if rotation != self.rotation {
            self.rotation = rotation;
            if rotation.is_some() {
                let mut rest = Reader::open(&self.first_rotation(), self.offset).await;
                while let Some(chunk) = rest.next().await {
                    self.lines
                        .feed(chunk, |line| out.push(self.revision, self.index, line));
                    if out.flush_if_full().await.is_err() {
                        return;
                    }
                }
            }
            self.offset = 0;
        } else if live.len < self.offset {
            // Truncated without a copy: start again from the top.
            self.offset = 0;
        }
        let mut reader = Reader::open(&self.live, self.offset).await;
        while let Some(chunk) = reader.next().await {
            self.lines
                .feed(chunk, |line| out.push(self.revision, self.index, line));
            if out.flush_if_full().await.is_err() {
                return;
            }
        }
        self.offset += reader.read;
    }

    /// Sends an unfinished last line as it is.
    pub(super) fn finish(&mut self, out: &mut Output) {
        self.lines
            .finish(|line| out.push(self.revision, self.index, line));
    }
}

/// Reads a file from an offset to its current end, in chunks. A file that is missing or
/// cannot be read reads as empty: replicas come and go.
struct Reader {
    file: Option<File>,
    buffer: Vec<u8>,
    read: u64,
}

impl Reader {
    async fn open(path: &Path, from: u64) -> Self {
        let file = match File::open(path).await {
            Ok(mut file) => file.seek(SeekFrom::Start(from)).await.ok().map(|_| file),
            Err(_) => None,
        };
        Self {
            file,
            buffer: vec![0; CHUNK],
            read: 0,
        }
    }

    async fn next(&mut self) -> Option<&[u8]> {
        let file = self.file.as_mut()?;
        match file.read(&mut self.buffer).await {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                self.read += n as u64;
                Some(&self.buffer[..n])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything sent so far, as text.
    async fn sent(out: &mut Output, receiver: &mut mpsc::Receiver<Vec<LogLine>>) -> String {
        assert!(out.flush().await.is_ok());
        let mut text = String::new();
        while let Ok(batch) = receiver.try_recv() {
            for line in batch {
                let line_text = String::from_utf8_lossy(&line.text);
                text.push_str(&format!(
                    "r{}/{} | {line_text}\n",
                    line.revision, line.index
                ));
            }
        }
        text
    }

    fn replica(live: &Path) -> ReplicaLog {
        ReplicaLog::new(ReplicaFiles {
            revision: 3,
            index: 0,
            live: live.to_path_buf(),
            rotated: Vec::new(),
        })
    }

    #[tokio::test]
    async fn a_follower_reads_on_across_a_copy_and_truncate_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("3").join("0.log");
        std::fs::create_dir_all(live.parent().unwrap()).unwrap();
        std::fs::write(&live, "a\nb\npart").unwrap();
        let (sender, mut receiver) = mpsc::channel(64);
        let mut out = Output::new(sender);

        let mut tail = replica(&live);
        tail.read_existing(Some(1), &mut out).await;
        assert_eq!(sent(&mut out, &mut receiver).await, "r3/0 | b\n");

        let mut replica = replica(&live);
        replica.read_existing(None, &mut out).await;
        assert_eq!(sent(&mut out, &mut receiver).await, "r3/0 | a\nr3/0 | b\n");

        // The writer finishes its line, the platform rotates, the writer goes on.
        let append = |text: &str| {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&live)
                .unwrap();
            file.write_all(text.as_bytes()).unwrap();
        };
        append("ial\nc\n");
        let mut rotated = live.clone().into_os_string();
        rotated.push(".1");
        std::fs::copy(&live, &rotated).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&live)
            .unwrap()
            .set_len(0)
            .unwrap();
        append("d\n");
        replica.read_new(&mut out).await;
        assert_eq!(
            sent(&mut out, &mut receiver).await,
            "r3/0 | partial\nr3/0 | c\nr3/0 | d\n"
        );

        append("e\n");
        replica.read_new(&mut out).await;
        assert_eq!(sent(&mut out, &mut receiver).await, "r3/0 | e\n");
    }
}
