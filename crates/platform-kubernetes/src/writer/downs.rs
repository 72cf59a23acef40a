//! The order of a service's scale writes: a revision is given more pods only once every
//! scale-down asked of the service's other revisions before it is written. Each revision is
//! written by a task of its own, so without this a rolling update's "old to 2, new to 2"
//! could reach the API server new first and run one pod more than its surge allows.

use std::collections::BTreeMap;

use bellwether_core::platform::RevisionKey;
use tokio::sync::watch;

/// The scale-downs asked and not written yet: each revision's and the count it was asked for.
pub(crate) struct Downs(watch::Sender<BTreeMap<RevisionKey, u32>>);

impl Default for Downs {
    fn default() -> Self {
        Self(watch::channel(BTreeMap::new()).0)
    }
}

impl Downs {
    /// Notes what `revision` is asked for now: a scale-down from `before` waits to be written;
    /// any other ask replaces an earlier scale-down of it.
    pub(crate) fn asked(&self, revision: &RevisionKey, before: Option<u32>, now: u32) {
        self.0.send_if_modified(|downs| match before {
            Some(before) if now < before => downs.insert(revision.clone(), now) != Some(now),
            _ => downs.remove(revision).is_some(),
        });
    }

    /// `revision`'s scale to `replicas` is written: done with, unless it was asked again since.
    pub(crate) fn written(&self, revision: &RevisionKey, replicas: u32) {
        self.0.send_if_modified(|downs| {
            let done = downs.get(revision) == Some(&replicas);
            if done {
                downs.remove(revision);
            }
            done
        });
    }

    /// Resolves once no other revision of `revision`'s service has a scale-down to write.
    pub(crate) async fn none_before(&self, revision: &RevisionKey) {
        let mut downs = self.0.subscribe();
        let others = |downs: &BTreeMap<RevisionKey, u32>| {
            downs
                .keys()
                .any(|k| k.service == revision.service && k.revision != revision.revision)
        };
        // The sender lives as long as the writer that holds it, and so its tasks.
        let _ = downs.wait_for(|d| !others(d)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Waker};

    use super::*;

    fn key(service: &str, revision: u64) -> RevisionKey {
        RevisionKey {
            service: service.into(),
            revision,
        }
    }

    fn pending<F: Future>(f: Pin<&mut F>) -> bool {
        f.poll(&mut Context::from_waker(Waker::noop())).is_pending()
    }

    #[tokio::test]
    async fn a_scale_up_waits_for_the_scale_downs_of_its_service_only() {
        let downs = Downs::default();
        let api2 = key("api", 2);
        downs.asked(&key("api", 1), Some(3), 2);
        downs.asked(&key("web", 1), Some(3), 0);
        let up = downs.none_before(&api2);
        tokio::pin!(up);
        assert!(pending(up.as_mut()), "r1 of api is still to go down");
        // Another service's scale-down holds none of api's; r1 is not held by its own.
        downs.none_before(&key("api", 1)).await;
        downs.written(&key("api", 1), 2);
        up.await;
        // Asked again meanwhile: the earlier write does not end the later scale-down.
        downs.asked(&key("api", 1), Some(2), 1);
        downs.written(&key("api", 1), 2);
        let up = downs.none_before(&api2);
        tokio::pin!(up);
        assert!(pending(up.as_mut()));
        // A scale-up of r1 replaces its scale-down.
        downs.asked(&key("api", 1), Some(1), 3);
        up.await;
    }
}
