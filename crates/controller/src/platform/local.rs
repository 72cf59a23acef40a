//! The embedded default: each replica a supervised process on a loopback port.

use std::future::Future;
use std::pin::Pin;

use bellwether_core::platform::{LogLine, LogQuery, ReplicaTemplate, ServiceState};
use bellwether_platform_local::LocalPlatform;
use tokio::sync::{mpsc, watch};

use super::Platform;

impl Platform for LocalPlatform {
    fn scale(&self, template: &ReplicaTemplate, replicas: u32) {
        LocalPlatform::scale(self, template, replicas);
    }

    fn watch(&self, service: &str) -> watch::Receiver<ServiceState> {
        LocalPlatform::watch(self, service)
    }

    fn logs(
        &self,
        service: &str,
        query: LogQuery,
        stop: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> mpsc::Receiver<Vec<LogLine>> {
        LocalPlatform::logs(self, service, query, stop)
    }

    fn reap_unclaimed(&self) {
        LocalPlatform::reap_unclaimed(self);
    }

    fn abandon(&self) {
        LocalPlatform::abandon(self);
    }

    fn shutdown(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(LocalPlatform::shutdown(self))
    }
}
