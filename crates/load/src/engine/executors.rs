//! The executors on tokio: when each VU runs and when each iteration starts, as the pure
//! schedules say. At the end of its duration a scenario starts nothing more; iterations still
//! running get `gracefulStop` to finish and are interrupted after it.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::vu::Vu;
use crate::metrics::{Sample, Tags};
use crate::plan::Executor;

pub(crate) async fn scenario(shared: Arc<Shared>, index: usize) {
    let scenario = &shared.plan.scenarios[index];
    let start = shared.start + scenario.start_time;
    tokio::select! {
        () = tokio::time::sleep_until(start) => {}
        () = shared.stop.cancelled() => return,
    }
    let end = start + scenario.duration();
    let halt = shared.stop.child_token();
    let deadline = tokio::spawn({
        let halt = halt.clone();
        let hard = end + scenario.graceful_stop;
        async move {
            tokio::select! {
                () = tokio::time::sleep_until(hard) => halt.cancel(),
                () = halt.cancelled() => {}
            }
        }
    });
    let window = Window { start, end, halt };
    let mut vus = JoinSet::new();
    match &scenario.executor {
        Executor::Vus { ramp, .. } => {
            for id in 0..ramp.max() {
                let vu = looping(Arc::clone(&shared), index, id, window.clone());
                shared.spawn_vu(&mut vus, id as usize, vu);
            }
        }
        Executor::Arrival {
            pre_allocated,
            max_vus,
            ..
        } => arrivals(&shared, index, *pre_allocated, *max_vus, &window, &mut vus).await,
    }
    finish(&mut vus, &window.halt).await;
    // A scenario lasts its duration, even when its last iteration ends before.
    tokio::select! {
        () = tokio::time::sleep_until(window.end) => {}
        () = window.halt.cancelled() => {}
    }
    window.halt.cancel();
    let _ = deadline.await;
}

/// A scenario's time: it schedules from `start` to `end`; `halt` interrupts its VUs.
#[derive(Clone)]
struct Window {
    start: Instant,
    end: Instant,
    halt: CancellationToken,
}

/// Waits for the VUs to end on their own, or interrupts them when the scenario is halted.
/// Interrupting a VU drops its task, so the iterations need not watch for it themselves.
async fn finish(vus: &mut JoinSet<()>, halt: &CancellationToken) {
    loop {
        tokio::select! {
            next = vus.join_next() => {
                if next.is_none() {
                    return;
                }
            }
            () = halt.cancelled() => {
                vus.abort_all();
                while vus.join_next().await.is_some() {}
                return;
            }
        }
    }
}

/// A VU of `constant-vus` or `ramping-vus`: iterates while the ramp wants it, waits while it
/// does not.
async fn looping(shared: Arc<Shared>, index: usize, id: u32, window: Window) {
    let Executor::Vus { ramp, .. } = &shared.plan.scenarios[index].executor else {
        return;
    };
    let mut vu: Option<Vu> = None;
    loop {
        let now = Instant::now();
        if now >= window.end {
            return;
        }
        match ramp.next_active(id, now.saturating_duration_since(window.start)) {
            None => return,
            Some(at) if window.start + at > now => {
                tokio::time::sleep_until(window.start + at).await;
                continue;
            }
            Some(_) => {}
        }
        vu.get_or_insert_with(|| Vu::new(Arc::clone(&shared), index))
            .iteration(None)
            .await;
    }
}

/// `constant-arrival-rate` and `ramping-arrival-rate`: iterations start when due, each on an
/// idle VU (a task in `tasks`); with none idle a VU is added up to `max_vus`, past which the
/// iteration is dropped.
async fn arrivals(
    shared: &Arc<Shared>,
    index: usize,
    pre_allocated: u32,
    max_vus: u32,
    window: &Window,
    tasks: &mut JoinSet<()>,
) {
    let Executor::Arrival { ramp, .. } = &shared.plan.scenarios[index].executor else {
        return;
    };
    let scenario = shared.plan.scenarios[index].name.as_str();
    let (done_tx, mut done) = mpsc::unbounded_channel::<usize>();
    let mut vus: Vec<mpsc::Sender<Instant>> = Vec::new();
    let mut idle: Vec<usize> = Vec::new();
    let mut add = |vus: &mut Vec<mpsc::Sender<Instant>>| {
        let (tx, rx) = mpsc::channel(1);
        let id = vus.len();
        vus.push(tx);
        let vu = serving(Arc::clone(shared), index, id, rx, done_tx.clone());
        shared.spawn_vu(tasks, id, vu);
        id
    };
    for _ in 0..pre_allocated {
        idle.push(add(&mut vus));
    }
    let halted = window.halt.cancelled();
    tokio::pin!(halted);
    for due in ramp.arrivals() {
        let at = window.start + due;
        if at > Instant::now() {
            tokio::select! {
                () = tokio::time::sleep_until(at) => {}
                () = &mut halted => return,
            }
        }
        while let Ok(id) = done.try_recv() {
            idle.push(id);
        }
        let id = match idle.pop() {
            Some(id) => id,
            None if vus.len() < max_vus as usize => add(&mut vus),
            None => {
                let tags = Tags {
                    scenario,
                    ..Tags::default()
                };
                shared.record(index, Sample::Dropped, &tags);
                continue;
            }
        };
        let _ = vus[id].try_send(at);
    }
    // Dropping the channels lets each VU finish its iteration and end.
}

/// An arrival-rate VU: runs each iteration it is handed, then says it is idle.
async fn serving(
    shared: Arc<Shared>,
    index: usize,
    id: usize,
    mut work: mpsc::Receiver<Instant>,
    done: mpsc::UnboundedSender<usize>,
) {
    let mut vu = Vu::new(shared, index);
    while let Some(due) = work.recv().await {
        vu.iteration(Some(due)).await;
        let _ = done.send(id);
    }
}
