//! Group commit: writes that arrive while the store is committing wait, and the next free
//! writer commits all of them in one transaction, so many callers pay for one flush.
//!
//! There is no writer thread and no timer. A caller queues its work; if nobody is writing it
//! becomes the writer at once (an idle store adds no wait), takes everything queued (its own
//! work and whatever arrived meanwhile) and writes it as one group; the others sleep until their
//! answer is there, or until the writer is done and one of them takes the next group. Each
//! caller returns only once the group holding its work has committed, or failed.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::StoreError;

/// The most work one group holds: a transaction's size stays bounded under any load.
pub const MOST: usize = 512;

/// Callers' work of type `W` waiting to be written together, and the answers `T` written work
/// gets.
pub struct Group<W, T> {
    state: Mutex<State<W, T>>,
    turn: Condvar,
    /// How much work one group may hold: [`MOST`], or 1 for a commit per call.
    limit: usize,
    /// The answer of work whose writer panicked.
    lost: fn() -> T,
}

struct State<W, T> {
    writing: bool,
    next: u64,
    queued: Vec<(u64, W)>,
    answered: HashMap<u64, T>,
}

impl<W, T> Group<W, T> {
    /// Groups of at most `limit` (at least 1); `lost` answers the work of a writer that
    /// panicked.
    pub fn new(limit: usize, lost: fn() -> T) -> Self {
        Self {
            state: Mutex::new(State {
                writing: false,
                next: 0,
                queued: Vec::new(),
                answered: HashMap::new(),
            }),
            turn: Condvar::new(),
            limit: limit.max(1),
            lost,
        }
    }

    /// Writes `work` in a group, `write` being how a group is written: it is given the works in
    /// the order they were queued and answers each, in the same order. Returns `work`'s answer
    /// once its group is written.
    pub fn submit(&self, work: W, write: impl Fn(Vec<W>) -> Vec<T>) -> T {
        let mut state = self.lock();
        let ticket = state.next;
        state.next += 1;
        state.queued.push((ticket, work));
        loop {
            if let Some(answer) = state.answered.remove(&ticket) {
                return answer;
            }
            if state.writing {
                state = self
                    .turn
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                continue;
            }
            // Nobody writes, and this caller's work is still queued: it writes the oldest
            // group, which holds its work unless more than a group's worth queued before it.
            state.writing = true;
            let take = state.queued.len().min(self.limit);
            let (tickets, works): (Vec<u64>, Vec<W>) = state.queued.drain(..take).unzip();
            drop(state);
            let mut writer = Writer {
                group: self,
                tickets,
                answers: None,
            };
            writer.answers = Some(write(works));
            drop(writer);
            state = self.lock();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<W, T>> {
        // The state is a queue and answers, each change whole under the lock: a panic while
        // holding it leaves nothing half-changed.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The answers of a group of `n` whose commit failed with `error`: every work fails, since
/// nothing of the group was written. A group of one gets the error itself.
pub fn all_failed<T>(error: StoreError, n: usize) -> Vec<Result<T, StoreError>> {
    if n == 1 {
        return vec![Err(error)];
    }
    let shared = Arc::new(error);
    (0..n)
        .map(|_| Err(StoreError::Grouped(Arc::clone(&shared))))
        .collect()
}

/// The answer of work whose group's writer panicked: whether the group committed is unknown.
pub fn lost<T>() -> Result<T, StoreError> {
    Err(StoreError::Backend(
        "the writer of this call's group failed before answering".into(),
    ))
}

/// The group being written: when dropped, normally or by a panic of the write, it hands out
/// the answers (a lost one to work that got none), frees the turn and wakes the waiting.
struct Writer<'g, W, T> {
    group: &'g Group<W, T>,
    tickets: Vec<u64>,
    answers: Option<Vec<T>>,
}

impl<W, T> Drop for Writer<'_, W, T> {
    fn drop(&mut self) {
        let mut answers = self.answers.take().unwrap_or_default().into_iter();
        let mut state = self.group.lock();
        for &ticket in &self.tickets {
            let answer = answers.next().unwrap_or_else(|| (self.group.lost)());
            state.answered.insert(ticket, answer);
        }
        state.writing = false;
        drop(state);
        self.group.turn.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;
    use std::thread;

    use super::*;

    #[test]
    fn an_idle_group_writes_a_call_alone_at_once() {
        let group = Group::new(MOST, || 0);
        let answer = group.submit(7, |works| {
            assert_eq!(works, [7]);
            works.iter().map(|w| w * 2).collect()
        });
        assert_eq!(answer, 14);
    }

    #[test]
    fn work_queued_while_writing_is_written_together_and_each_gets_its_answer() {
        const CALLERS: usize = 16;
        let group = Group::new(MOST, || usize::MAX);
        let sizes = Mutex::new(Vec::new());
        let start = Barrier::new(CALLERS);
        let answers: Vec<usize> = thread::scope(|scope| {
            let callers: Vec<_> = (0..CALLERS)
                .map(|i| {
                    let (group, sizes, start) = (&group, &sizes, &start);
                    scope.spawn(move || {
                        start.wait();
                        group.submit(i, |works| {
                            sizes.lock().unwrap().push(works.len());
                            // Long enough for the others to queue behind this group.
                            thread::sleep(std::time::Duration::from_millis(20));
                            works.iter().map(|w| w + 100).collect()
                        })
                    })
                })
                .collect();
            callers.into_iter().map(|c| c.join().unwrap()).collect()
        });
        assert_eq!(answers, (100..100 + CALLERS).collect::<Vec<_>>());
        let sizes = sizes.into_inner().unwrap();
        assert_eq!(sizes.iter().sum::<usize>(), CALLERS);
        assert!(sizes.len() < CALLERS, "some work was grouped: {sizes:?}");
    }

    #[test]
    fn a_limit_of_one_writes_each_call_alone() {
        const CALLERS: usize = 8;
        let group = Group::new(1, || 0);
        let start = Barrier::new(CALLERS);
        thread::scope(|scope| {
            for i in 0..CALLERS {
                let (group, start) = (&group, &start);
                scope.spawn(move || {
                    start.wait();
                    let answer = group.submit(i, |works| {
                        assert_eq!(works.len(), 1);
                        works
                    });
                    assert_eq!(answer, i);
                });
            }
        });
    }

    #[test]
    fn a_writer_that_panics_answers_its_group_as_lost_and_frees_the_turn() {
        let group = Group::new(MOST, || -1);
        let panicked = thread::scope(|scope| {
            scope
                .spawn(|| group.submit(1, |_| panic!("the write failed")))
                .join()
        });
        assert!(panicked.is_err());
        assert_eq!(group.submit(2, |works| works), 2);
    }
}
