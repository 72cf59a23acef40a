//! Group commit: writes that arrive while the store is committing wait, and the next free
//! writer commits all of them in one transaction, so many callers pay for one flush.
//!
//! There is no writer thread and no timer. A caller queues its work; if nobody is writing it
//! becomes the writer at once (an idle store adds no wait), takes everything queued (its own
//! work and whatever arrived meanwhile) and writes it as one group; the others sleep until their
//! answer is there, or until the writer is done and one of them takes the next group. Each
//! caller returns only once the group holding its work has committed, or failed.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::StoreError;

/// The most work one group holds: a transaction's size stays bounded under any load.
pub const MOST: usize = 512;

/// Callers' work of type `W` waiting to be written together, and the answers `T` written work
/// gets.
pub struct Group<W, T> {
    state: Mutex<State<W, T>>,
    /// How much work one group may hold (the stores take [`MOST`]).
    limit: usize,
    /// The answer of work whose writer panicked.
    lost: fn() -> T,
}

struct State<W, T> {
    /// Whether a caller is writing a group, or has been told to write the next.
    writing: bool,
    queued: VecDeque<(W, Arc<Slot<T>>)>,
}

/// Where one waiting caller is told what to do: each is woken alone, when its answer is there
/// or when it is its turn to write.
struct Slot<T> {
    told: Mutex<Told<T>>,
    woken: Condvar,
}

enum Told<T> {
    Wait,
    Write,
    Answer(T),
}

impl<T> Slot<T> {
    fn tell(&self, told: Told<T>) {
        *lock(&self.told) = told;
        self.woken.notify_one();
    }

    /// The answer, if given.
    fn answer(&self) -> Option<T> {
        match std::mem::replace(&mut *lock(&self.told), Told::Wait) {
            Told::Answer(answer) => Some(answer),
            Told::Wait | Told::Write => None,
        }
    }

    /// Waits until told to write (`None`) or given the answer.
    fn wait(&self) -> Option<T> {
        let mut told = lock(&self.told);
        loop {
            match std::mem::replace(&mut *told, Told::Wait) {
                Told::Wait => {
                    told = self
                        .woken
                        .wait(told)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                Told::Write => return None,
                Told::Answer(answer) => return Some(answer),
            }
        }
    }
}

impl<W, T> Group<W, T> {
    /// Groups of at most `limit` (at least 1); `lost` answers the work of a writer that
    /// panicked.
    pub fn new(limit: usize, lost: fn() -> T) -> Self {
        Self {
            state: Mutex::new(State {
                writing: false,
                queued: VecDeque::new(),
            }),
            limit: limit.max(1),
            lost,
        }
    }

    /// Writes `work` in a group, `write` being how a group is written: it is given the works in
    /// the order they were queued and answers each, in the same order. Returns `work`'s answer
    /// once its group is written.
    pub fn submit(&self, work: W, write: impl Fn(Vec<W>) -> Vec<T>) -> T {
        let slot = Arc::new(Slot {
            told: Mutex::new(Told::Wait),
            woken: Condvar::new(),
        });
        let mut state = lock(&self.state);
        state.queued.push_back((work, Arc::clone(&slot)));
        let idle = !state.writing;
        state.writing = true;
        drop(state);
        if !idle && let Some(answer) = slot.wait() {
            return answer;
        }
        // This caller writes the oldest group, which holds its work unless more than a group's
        // worth queued before it; then it writes again, as it is still the writer.
        loop {
            let mut state = lock(&self.state);
            let take = state.queued.len().min(self.limit);
            let (works, slots): (Vec<W>, Vec<Arc<Slot<T>>>) = state.queued.drain(..take).unzip();
            drop(state);
            let mine = slots.iter().any(|s| Arc::ptr_eq(s, &slot));
            let mut writer = Writer {
                group: self,
                own: &slot,
                slots,
                answers: None,
                writes_on: !mine,
            };
            writer.answers = Some(write(works));
            drop(writer);
            if mine {
                return slot.answer().unwrap_or_else(self.lost);
            }
        }
    }
}

fn lock<S>(mutex: &Mutex<S>) -> MutexGuard<'_, S> {
    // Every change under these locks is whole (a queue, a flag, an answer): a panic while
    // holding one leaves nothing half-changed.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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
/// the answers (a lost one to work that got none), then the turn to write: to the writer itself
/// if it `writes_on`, else to the oldest waiting caller, else to nobody.
struct Writer<'g, W, T> {
    group: &'g Group<W, T>,
    /// The writing caller's own slot.
    own: &'g Arc<Slot<T>>,
    slots: Vec<Arc<Slot<T>>>,
    answers: Option<Vec<T>>,
    writes_on: bool,
}

impl<W, T> Drop for Writer<'_, W, T> {
    fn drop(&mut self) {
        let mut answers = self.answers.take().unwrap_or_default().into_iter();
        for slot in &self.slots {
            let answer = answers.next().unwrap_or_else(|| (self.group.lost)());
            slot.tell(Told::Answer(answer));
        }
        let panicking = std::thread::panicking();
        if self.writes_on && !panicking {
            return;
        }
        let mut state = lock(&self.group.state);
        if panicking {
            // The writer's own work, if still queued, has nobody left to wait for it.
            state
                .queued
                .retain(|(_, slot)| !Arc::ptr_eq(slot, self.own));
        }
        match state.queued.front() {
            Some((_, next)) => next.tell(Told::Write),
            None => state.writing = false,
        }
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
