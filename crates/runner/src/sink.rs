//! Where a step's output goes: cut into lines, masked, appended to the step's log file and
//! handed to the observer, a line at a time, so memory stays flat whatever the step prints.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bellwether_pipeline_core::executor::{LogSink, Stream};
use bellwether_pipeline_core::logs::LineBuffer;
use bellwether_pipeline_core::mask::Masker;
use bellwether_pipeline_core::run::InstanceId;

use crate::observer::Observer;

/// The file in a job's (or matrix leg's) log directory that holds its steps' summaries.
pub const SUMMARY: &str = "summary.md";

pub(crate) struct StepLog {
    /// The job's log directory, where its summary goes.
    dir: Option<PathBuf>,
    /// Created with the first line, so that a step that prints nothing costs no file.
    file: LogFile,
    stdout: LineBuffer,
    stderr: LineBuffer,
    masker: Arc<Masker>,
    observer: Arc<dyn Observer>,
    instance: InstanceId,
}

enum LogFile {
    NotYet(PathBuf),
    Open(BufWriter<File>),
    /// It could not be created or written; the observer still gets every line.
    Failed,
}

impl StepLog {
    pub(crate) fn new(
        path: &Path,
        masker: Arc<Masker>,
        observer: Arc<dyn Observer>,
        instance: InstanceId,
    ) -> StepLog {
        StepLog {
            dir: path.parent().map(Path::to_path_buf),
            file: LogFile::NotYet(path.to_path_buf()),
            stdout: LineBuffer::default(),
            stderr: LineBuffer::default(),
            masker,
            observer,
            instance,
        }
    }
}

impl LogSink for StepLog {
    fn write(&mut self, stream: Stream, bytes: &[u8]) {
        let StepLog {
            dir: _,
            file,
            stdout,
            stderr,
            masker,
            observer,
            instance,
        } = self;
        let buffer = match stream {
            Stream::Stdout => stdout,
            Stream::Stderr => stderr,
        };
        buffer.push(bytes, masker, &mut |line| {
            emit(file, observer.as_ref(), *instance, line)
        });
        flush(file);
    }

    fn note(&mut self, text: &str) {
        let masked = self.masker.mask_str(text).into_owned();
        emit(
            &mut self.file,
            self.observer.as_ref(),
            self.instance,
            masked.as_bytes(),
        );
        flush(&mut self.file);
    }

    /// Appended, masked, to `summary.md` beside the step's log: the job's (or leg's) summary.
    fn summary(&mut self, markdown: &str) {
        let masked = self.masker.mask_str(markdown);
        let appended = self.dir.as_deref().map_or(Ok(()), |dir| {
            std::fs::create_dir_all(dir)?;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(SUMMARY))?;
            f.write_all(masked.as_bytes())?;
            if !masked.ends_with('\n') {
                f.write_all(b"\n")?;
            }
            Ok::<(), std::io::Error>(())
        });
        if let Err(e) = appended {
            self.note(&format!("cannot keep the step's summary: {e}"));
        }
    }

    fn finish(&mut self) {
        let StepLog {
            dir: _,
            file,
            stdout,
            stderr,
            masker,
            observer,
            instance,
        } = self;
        for buffer in [stdout, stderr] {
            buffer.finish(masker, &mut |line| {
                emit(file, observer.as_ref(), *instance, line)
            });
        }
        flush(file);
    }
}

/// Writes out the lines of each chunk the step printed as it arrives, in one write, so that
/// whoever reads the log file while the step runs (the dashboard) sees them. A log that
/// cannot be written loses its tail; the observer already has it.
fn flush(file: &mut LogFile) {
    if let LogFile::Open(f) = file
        && f.flush().is_err()
    {
        *file = LogFile::Failed;
    }
}

fn emit(file: &mut LogFile, observer: &dyn Observer, instance: InstanceId, line: &[u8]) {
    if let LogFile::NotYet(path) = file {
        let created = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| File::create(&*path));
        *file = match created {
            Ok(f) => LogFile::Open(BufWriter::new(f)),
            Err(e) => {
                observer.note(
                    Some(instance),
                    &format!("cannot write the step's log to {}: {e}", path.display()),
                );
                LogFile::Failed
            }
        };
    }
    if let LogFile::Open(f) = file
        && (f.write_all(line).is_err() || f.write_all(b"\n").is_err())
    {
        *file = LogFile::Failed;
    }
    observer.line(instance, line);
}
