//! Which router thread runs the caller. `server` numbers its threads and `pool` keeps idle
//! connections by thread: the number lives here, below both, so neither depends on the other.

thread_local! {
    /// Which of `Router::serve_threads`' threads this is; 0 on any other thread.
    static WORKER: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The router thread running the caller (0 outside `Router::serve_threads`).
pub(crate) fn index() -> usize {
    WORKER.get()
}

/// Makes the calling thread router thread `index` for the rest of its life.
pub(crate) fn set_index(index: usize) {
    WORKER.set(index);
}
