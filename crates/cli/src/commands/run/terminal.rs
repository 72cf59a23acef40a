//! What a person sees while a run goes on: on a terminal, a job tree redrawn in place under
//! the output; piped, plain lines as jobs start and end. Everything printed is masked.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bellwether_core::time::Timestamp;
use bellwether_pipeline_core::mask::Masker;
use bellwether_pipeline_core::run::{
    Conclusion, InstanceId, InstanceStatus, JobPhase, Run, StepStatus,
};
use bellwether_runner::Observer;

/// The tree is redrawn at most this often, so that chatty steps do not spend their time on it.
const REDRAW: Duration = Duration::from_millis(100);
/// Longer trees show what runs and what failed, and count the rest.
const MAX_ROWS: usize = 30;

pub(super) struct Terminal {
    title: String,
    tree: bool,
    quiet: bool,
    masker: Arc<Masker>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// What each row looked like when last seen, and its name for output lines.
    seen: HashMap<InstanceKey, Seen>,
    /// Every row, computed when the tree is drawn and when the run ends.
    rows: Vec<Row>,
    drawn: usize,
    last_draw: Option<Instant>,
    /// When the rows were computed, so that running rows' times can go on between events.
    computed: Option<Instant>,
    finished: bool,
}

struct Seen {
    signature: Signature,
    name: String,
}

/// What changes when a row must be shown again, cheap to compare on every event so that a
/// run of a thousand jobs does not rebuild a thousand rows each time.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Signature {
    status: u8,
    steps: usize,
    attempt: u32,
}

type InstanceKey = (usize, Option<usize>);

#[derive(Clone)]
struct Row {
    name: String,
    icon: &'static str,
    status: String,
    /// Milliseconds, when it has started.
    took: Option<u64>,
    running: bool,
    failed: bool,
}

impl Terminal {
    pub(super) fn new(title: String, plain: bool, quiet: bool, masker: Arc<Masker>) -> Terminal {
        let tree = !plain && std::io::stdout().is_terminal();
        if !tree {
            println!("{title}");
        }
        Terminal {
            title,
            tree,
            quiet,
            masker,
            state: Mutex::new(State::default()),
        }
    }

    /// Redraws the tree so that running jobs' times go on while nothing else happens.
    pub(super) fn tick(&self) {
        if !self.tree {
            return;
        }
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.finished {
            return;
        }
        let since = state.computed.map_or(0, |c| c.elapsed().as_millis() as u64);
        let mut out = std::io::stdout().lock();
        clear(&mut out, &mut state);
        let rows = state.rows.clone();
        state.rows = rows
            .iter()
            .map(|r| Row {
                took: r.took.map(|t| if r.running { t + since } else { t }),
                ..r.clone()
            })
            .collect();
        draw(&mut out, &mut state, &self.title);
        state.rows = rows;
        let _ = out.flush();
    }

    /// Prints the final tree (plain mode prints it as the summary).
    pub(super) fn finish(&self, conclusion: Conclusion, took: Duration) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let mut out = std::io::stdout().lock();
        if self.tree {
            clear(&mut out, &mut state);
        }
        let _ = writeln!(
            out,
            "{} · {conclusion} in {:.1}s",
            self.title,
            took.as_secs_f64()
        );
        for line in tree_lines(&state.rows, usize::MAX) {
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
    }

    fn name(&self, state: &State, instance: Option<InstanceId>) -> String {
        let Some(id) = instance else {
            return String::new();
        };
        state
            .seen
            .get(&(id.job, Some(id.index)))
            .or_else(|| state.seen.get(&(id.job, None)))
            .map(|s| s.name.clone())
            .unwrap_or_default()
    }

    /// Names and messages may hold secrets (`name: deploy ${{ secrets.X }}`).
    fn masked(&self, row: Row) -> Row {
        Row {
            name: self.masker.mask_str(&row.name).into_owned(),
            status: self.masker.mask_str(&row.status).into_owned(),
            ..row
        }
    }

    /// Prints lines above the tree: clears it, prints, redraws it when it is due.
    fn print(&self, lines: &[String]) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let mut out = std::io::stdout().lock();
        if self.tree {
            clear(&mut out, &mut state);
        }
        for line in lines {
            let _ = writeln!(out, "{line}");
        }
        if self.tree {
            draw(&mut out, &mut state, &self.title);
        }
        let _ = out.flush();
    }
}

impl Observer for Terminal {
    fn update(&self, run: &Run, at: Timestamp) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let finished = run.conclusion().is_some();
        let mut changed = Vec::new();
        for key in keys(run) {
            let signature = signature(run, key);
            if state.seen.get(&key).map(|s| s.signature) == Some(signature) {
                continue;
            }
            let row = self.masked(row(run, key, at));
            state.seen.insert(
                key,
                Seen {
                    signature,
                    name: row.name.clone(),
                },
            );
            changed.push(row);
        }
        let mut out = std::io::stdout().lock();
        if self.tree {
            let due = state.last_draw.is_none_or(|t| t.elapsed() >= REDRAW) || finished;
            if due && !changed.is_empty() || finished {
                state.rows = keys(run).map(|k| self.masked(row(run, k, at))).collect();
                state.computed = Some(Instant::now());
                clear(&mut out, &mut state);
                draw(&mut out, &mut state, &self.title);
            }
        } else {
            for row in changed.iter().filter(|r| !r.status.starts_with("waiting")) {
                let took = row
                    .took
                    .filter(|_| !row.running)
                    .map(|ms| format!(" {:.1}s", ms as f64 / 1000.0))
                    .unwrap_or_default();
                let status = if row.status.is_empty() {
                    String::new()
                } else {
                    format!(" · {}", row.status)
                };
                let _ = writeln!(out, "{} {}{took}{status}", row.icon, row.name);
            }
            if finished {
                state.rows = keys(run).map(|k| self.masked(row(run, k, at))).collect();
            }
        }
        state.finished = finished;
        let _ = out.flush();
    }

    fn line(&self, instance: InstanceId, line: &[u8]) {
        if self.quiet {
            return;
        }
        let name = self
            .state
            .lock()
            .map(|s| self.name(&s, Some(instance)))
            .unwrap_or_default();
        self.print(&[format!("[{name}] {}", String::from_utf8_lossy(line))]);
    }

    fn note(&self, instance: Option<InstanceId>, text: &str) {
        let name = self
            .state
            .lock()
            .map(|s| self.name(&s, instance))
            .unwrap_or_default();
        let text = self.masker.mask_str(text);
        let who = if name.is_empty() {
            String::new()
        } else {
            format!("[{name}] ")
        };
        self.print(&[format!("{who}# {text}")]);
    }
}

/// One row per job, or per instance of a job that has expanded.
fn keys(run: &Run) -> impl Iterator<Item = InstanceKey> + '_ {
    run.jobs().iter().enumerate().flat_map(|(j, job)| {
        let instances = job.instances.len();
        let single = (instances == 0).then_some((j, None));
        single
            .into_iter()
            .chain((0..instances).map(move |i| (j, Some(i))))
    })
}

fn signature(run: &Run, (j, i): InstanceKey) -> Signature {
    let Some(job) = run.jobs().get(j) else {
        return Signature {
            status: 0,
            steps: 0,
            attempt: 0,
        };
    };
    let done = |c: Conclusion| 10 + c as u8;
    match i.and_then(|i| job.instances.get(i)) {
        None => Signature {
            status: job.conclusion().map_or(0, done),
            steps: 0,
            attempt: 0,
        },
        Some(instance) => Signature {
            status: match instance.status {
                InstanceStatus::Pending => 1,
                InstanceStatus::Gated => 2,
                InstanceStatus::Queued => 3,
                InstanceStatus::Running => 4,
                InstanceStatus::Done { conclusion, .. } => done(conclusion),
            },
            steps: instance.steps.len(),
            attempt: instance.attempt,
        },
    }
}

fn row(run: &Run, key: InstanceKey, now: Timestamp) -> Row {
    let (j, i) = key;
    let Some(job) = run.jobs().get(j) else {
        return Row {
            name: String::new(),
            icon: "?",
            status: String::new(),
            took: None,
            running: false,
            failed: false,
        };
    };
    let Some(instance) = i.and_then(|i| job.instances.get(i)) else {
        let (icon, status) = match job.phase {
            JobPhase::Done(c) => (
                icon(c),
                job.message
                    .clone()
                    .map_or_else(|| c.to_string(), |m| format!("{c}: {m}")),
            ),
            _ => ("○", "waiting".to_owned()),
        };
        let failed = job.conclusion() == Some(Conclusion::Failure);
        return Row {
            name: job.name.clone(),
            icon,
            status,
            took: None,
            running: false,
            failed,
        };
    };
    let took = instance
        .started_at
        .map(|s| instance.finished_at.unwrap_or(now).since(s).as_millis() as u64);
    let (icon, status, running) = match instance.status {
        InstanceStatus::Pending => ("○", "waiting for a slot".to_owned(), false),
        InstanceStatus::Gated => ("⏸", "waiting for approval".to_owned(), false),
        InstanceStatus::Queued => ("…", "waiting for its concurrency group".to_owned(), false),
        InstanceStatus::Running => {
            let step = instance
                .steps
                .iter()
                .rev()
                .find(|s| s.status == StepStatus::Running)
                .map_or("", |s| s.name.as_str());
            let attempt = if instance.attempt > 1 {
                format!(" (attempt {})", instance.attempt)
            } else {
                String::new()
            };
            ("●", format!("{step}{attempt}"), true)
        }
        InstanceStatus::Done {
            conclusion: Conclusion::Success,
            ..
        } => ("✓", String::new(), false),
        InstanceStatus::Done { conclusion, .. } => {
            let why = instance
                .message
                .as_ref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            (icon(conclusion), format!("{conclusion}{why}"), false)
        }
    };
    let failed = instance.conclusion() == Some(Conclusion::Failure);
    Row {
        name: instance.name.clone(),
        icon,
        status,
        took,
        running,
        failed,
    }
}

fn icon(c: Conclusion) -> &'static str {
    match c {
        Conclusion::Success => "✓",
        Conclusion::Failure => "✗",
        Conclusion::Cancelled => "⊘",
        Conclusion::Skipped => "–",
    }
}

/// The tree's lines; past `max` rows, what runs and what failed, then counts.
fn tree_lines(rows: &[Row], max: usize) -> Vec<String> {
    let width = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(0)
        .min(48);
    let line = |r: &Row| {
        let took = r
            .took
            .map(|ms| format!("{:>7.1}s", ms as f64 / 1000.0))
            .unwrap_or_else(|| " ".repeat(8));
        format!("  {} {:<width$} {took}  {}", r.icon, r.name, r.status)
            .trim_end()
            .to_owned()
    };
    if rows.len() <= max {
        return rows.iter().map(line).collect();
    }
    let shown: Vec<&Row> = rows
        .iter()
        .filter(|r| r.running || r.failed)
        .take(max)
        .collect();
    let mut out: Vec<String> = shown.iter().map(|r| line(r)).collect();
    let done = rows
        .iter()
        .filter(|r| !r.running && r.took.is_some() && !r.failed)
        .count();
    let waiting = rows
        .iter()
        .filter(|r| r.took.is_none() && r.icon == "○")
        .count();
    out.push(format!(
        "  … {} more: {done} done, {waiting} waiting",
        rows.len() - shown.len()
    ));
    out
}

fn clear(out: &mut impl Write, state: &mut State) {
    if state.drawn > 0 {
        let _ = write!(out, "\x1b[{}A\x1b[J", state.drawn);
        state.drawn = 0;
    }
}

fn draw(out: &mut impl Write, state: &mut State, title: &str) {
    let done = state
        .rows
        .iter()
        .filter(|r| !r.running && r.took.is_some())
        .count();
    let mut lines = vec![format!("{title} · {done}/{} done", state.rows.len())];
    lines.extend(tree_lines(&state.rows, MAX_ROWS));
    for l in &lines {
        let _ = writeln!(out, "{l}");
    }
    state.drawn = lines.len();
    state.last_draw = Some(Instant::now());
}
