//! One pod's life on the kubelet: an IP, its container started (again after each exit, with
//! back-off), its probes run and reflected in its status, and its end when it is deleted. A
//! pod scripted to run no process has its container running and ready at once.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::container::{self, Process, environment};
use super::probe::Probe;
use super::{Context, Stop};
use crate::resource::Key;
use crate::time::Now;

/// How long a container whose configuration cannot be made waits before trying again.
const CONFIG_RETRY: Duration = Duration::from_secs(1);

/// The pod's status as the kubelet sees it, written whole on every change.
struct Observed {
    ip: Ipv4Addr,
    start_time: String,
    ready: bool,
    started: bool,
    restarts: u32,
    state: Value,
    last_state: Value,
}

impl Observed {
    fn render(&self, container: &Value) -> Value {
        let ready = if self.ready { "True" } else { "False" };
        let now = Now.seconds();
        let condition = |kind: &str, status: &str| json!({"type": kind, "status": status, "lastTransitionTime": now});
        json!({
            "phase": if self.started || self.restarts > 0 { "Running" } else { "Pending" },
            "hostIP": "127.0.0.1",
            "podIP": self.ip.to_string(),
            "podIPs": [{"ip": self.ip.to_string()}],
            "startTime": self.start_time,
            "conditions": [
                condition("PodScheduled", "True"),
                condition("Initialized", "True"),
                condition("ContainersReady", ready),
                condition("Ready", ready),
            ],
            "containerStatuses": [{
                "name": container["name"],
                "image": container["image"],
                "imageID": "",
                "ready": self.ready,
                "started": self.started,
                "restartCount": self.restarts,
                "state": self.state,
                "lastState": self.last_state,
            }],
        })
    }

    fn waiting(&mut self, reason: &str, message: &str) {
        self.ready = false;
        self.started = false;
        self.state = json!({"waiting": {"reason": reason, "message": message}});
    }

    fn exited(&mut self, code: i32, reason: &str, message: &str) {
        self.ready = false;
        self.started = false;
        let finished = Now.seconds();
        let started = self.state["running"]["startedAt"].clone();
        self.last_state = json!({"terminated": {
            "exitCode": code, "reason": reason, "message": message,
            "startedAt": started, "finishedAt": finished,
        }});
        self.restarts += 1;
    }
}

/// How a run of the container ended.
enum Ended {
    Exited(i32, String),
    Stopped,
}

struct Pod {
    context: Context,
    key: Key,
    spec: Value,
    container: Value,
    observed: Observed,
}

impl Pod {
    fn publish(&self) {
        let status = self.observed.render(&self.container);
        let _ = self.context.store.update(&self.key, None, |pod| {
            pod["status"] = status;
            Ok(())
        });
    }

    /// Marked for deletion, or the kubelet is gone.
    fn stopping(stop: &watch::Receiver<Stop>) -> bool {
        *stop.borrow() != Stop::Run || stop.has_changed().is_err()
    }

    /// Waits `delay`, or less if the pod is stopped meanwhile.
    async fn pause(delay: Duration, stop: &mut watch::Receiver<Stop>) {
        let _ = tokio::time::timeout(delay, stop.wait_for(|s| *s != Stop::Run)).await;
    }
}

pub(super) async fn run(context: Context, key: Key, spec: Value, mut stop: watch::Receiver<Stop>) {
    let container = spec["spec"]["containers"][0].clone();
    let without_process = context.script.is_without_process(&spec);
    let ports: Vec<u16> = container["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| u16::try_from(p["containerPort"].as_u64()?).ok())
        .filter(|_| !without_process)
        .collect();
    let Some(ip) = context.ips.allocate(&ports) else {
        // Every address of 127/8 has its ports taken (a wildcard listener on one, say): the
        // pod stays pending, saying why.
        let message = format!("no loopback address has ports {ports:?} free");
        let _ = context.store.update(&key, None, |pod| {
            pod["status"] = json!({"phase": "Pending", "conditions": [{
                "type": "PodScheduled", "status": "False", "reason": "NoPodIP", "message": message,
            }]});
            Ok(())
        });
        let _ = stop.wait_for(|s| *s != Stop::Run).await;
        context.store.remove(&key);
        return;
    };
    let mut pod = Pod {
        context,
        key,
        spec,
        container,
        observed: Observed {
            ip,
            start_time: Now.seconds(),
            ready: false,
            started: false,
            restarts: 0,
            state: json!({"waiting": {"reason": "ContainerCreating"}}),
            last_state: json!({}),
        },
    };
    pod.publish();
    let mut backoff = pod.context.timing.restart_backoff;
    while !Pod::stopping(&stop) {
        let env = match environment(&pod.context.store, &pod.spec, &pod.container, ip) {
            Ok(env) => env,
            Err(why) => {
                pod.observed.waiting("CreateContainerConfigError", &why);
                pod.publish();
                Pod::pause(CONFIG_RETRY, &mut stop).await;
                continue;
            }
        };
        let ended = if pod.context.script.is_crash_looping(&pod.spec) {
            Ended::Exited(1, "crash-looping, as scripted".into())
        } else if without_process {
            pod.idle(&mut stop).await
        } else {
            match container::start(&pod.container, &env, &pod.context.logs, &pod.key) {
                Ok(process) => pod.supervise(process, &mut stop).await,
                Err(why) => Ended::Exited(128, why),
            }
        };
        let Ended::Exited(code, why) = ended else {
            break;
        };
        pod.observed.exited(code, "Error", &why);
        let message = format!("back-off {backoff:?} restarting failed container");
        pod.observed.waiting("CrashLoopBackOff", &message);
        pod.publish();
        Pod::pause(backoff, &mut stop).await;
        backoff = (backoff * 2).min(pod.context.timing.max_backoff);
    }
    pod.context.logs.forget(&pod.key.namespace, &pod.key.name);
    pod.context.ips.release(ip);
    pod.context.store.remove(&pod.key);
}

impl Pod {
    /// A container without a process: running, and ready unless scripted never to be, until
    /// the pod stops.
    async fn idle(&mut self, stop: &mut watch::Receiver<Stop>) -> Ended {
        self.observed.started = true;
        self.observed.state = json!({"running": {"startedAt": Now.seconds()}});
        self.observed.ready = !self.context.script.is_never_ready(&self.spec);
        self.publish();
        self.context.usage.started(&self.key, None);
        let _ = stop.wait_for(|s| *s != Stop::Run).await;
        self.observed.ready = false;
        self.context.usage.ended(&self.key);
        Ended::Stopped
    }

    /// Runs the started container until it exits, fails its liveness probe or the pod stops.
    async fn supervise(&mut self, mut process: Process, stop: &mut watch::Receiver<Stop>) -> Ended {
        self.observed.started = true;
        self.observed.state = json!({"running": {"startedAt": Now.seconds()}});
        self.publish();
        let pid = process.pid;
        if pid.is_some() {
            self.context.usage.started(&self.key, pid);
        }
        let readiness = Probe::of(&self.container["readinessProbe"], &self.container);
        let liveness = Probe::of(&self.container["livenessProbe"], &self.container);
        let ip = IpAddr::V4(self.observed.ip);
        enum Woke {
            Exited(i32),
            Unhealthy(String),
            Stop(Stop),
        }
        let woke = tokio::select! {
            status = process.child.wait() => Woke::Exited(status.ok().and_then(|s| s.code()).unwrap_or(137)),
            why = failing(liveness, ip) => Woke::Unhealthy(why),
            never = self.readiness(readiness, ip) => match never {},
            stop = stop.wait_for(|s| *s != Stop::Run) => Woke::Stop(stop.map_or(Stop::Kill, |s| *s)),
        };
        self.observed.ready = false;
        let ended = match woke {
            Woke::Exited(code) => Ended::Exited(code, format!("exited with code {code}")),
            Woke::Unhealthy(why) => {
                container::signal(pid, Signal::SIGKILL);
                let _ = process.child.wait().await;
                Ended::Exited(137, format!("Liveness probe failed: {why}"))
            }
            Woke::Stop(how) => {
                let grace = match how {
                    Stop::Terminate(grace) => grace,
                    Stop::Run | Stop::Kill => Duration::ZERO,
                };
                container::signal(pid, Signal::SIGTERM);
                if tokio::time::timeout(grace, process.child.wait())
                    .await
                    .is_err()
                {
                    container::signal(pid, Signal::SIGKILL);
                    let _ = process.child.wait().await;
                }
                Ended::Stopped
            }
        };
        // Whatever is left of the group goes with the container.
        container::signal(pid, Signal::SIGKILL);
        self.context.usage.ended(&self.key);
        process.finish(&self.context.logs, &self.key).await;
        ended
    }

    /// Probes readiness for as long as the container runs, publishing each change.
    async fn readiness(&mut self, probe: Option<Probe>, ip: IpAddr) -> Infallible {
        let Some(probe) = probe else {
            self.observed.ready = !self.context.script.is_never_ready(&self.spec);
            self.publish();
            return std::future::pending().await;
        };
        tokio::time::sleep(probe.initial_delay).await;
        let (mut passed, mut failed) = (0, 0);
        loop {
            let result = probe.check(ip).await;
            let never = self.context.script.is_never_ready(&self.spec);
            match result {
                Ok(()) if !never => {
                    passed += 1;
                    failed = 0;
                }
                _ => {
                    failed += 1;
                    passed = 0;
                }
            }
            let ready = if passed >= probe.success_threshold {
                true
            } else if failed >= probe.failure_threshold || !self.observed.ready {
                false
            } else {
                self.observed.ready
            };
            if ready != self.observed.ready {
                self.observed.ready = ready;
                self.publish();
            }
            tokio::time::sleep(probe.period).await;
        }
    }
}

/// Resolves with why once the liveness probe has failed its threshold in a row; never
/// without a probe.
async fn failing(probe: Option<Probe>, ip: IpAddr) -> String {
    let Some(probe) = probe else {
        return std::future::pending().await;
    };
    tokio::time::sleep(probe.initial_delay).await;
    let mut failed = 0;
    loop {
        match probe.check(ip).await {
            Ok(()) => failed = 0,
            Err(why) => {
                failed += 1;
                if failed >= probe.failure_threshold {
                    return why;
                }
            }
        }
        tokio::time::sleep(probe.period).await;
    }
}
