//! Who is told of each committed change of a run made through one handle of a run history:
//! what keeps the control plane's runs pages live.

use std::sync::{Mutex, MutexGuard};

/// Told the number of each run a committed call changed; dropped once it returns `false`.
pub type Watcher = Box<dyn Fn(u64) -> bool + Send + Sync>;

/// The watchers of one handle.
#[derive(Default)]
pub struct Watchers(Mutex<Vec<Watcher>>);

impl Watchers {
    pub fn add(&self, watcher: Watcher) {
        self.lock().push(watcher);
    }

    /// Tells every watcher that run `number` changed, in the caller's thread.
    pub fn changed(&self, number: u64) {
        self.lock().retain(|watcher| watcher(number));
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Watcher>> {
        // A watcher that panicked leaves the list whole.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
