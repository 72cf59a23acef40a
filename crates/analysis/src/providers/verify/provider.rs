//! Finds the revision's address and runs the suite against it.

use std::sync::Arc;

use bellwether_core::signal::AddressSource;
use bellwether_core::spec::ProviderSpec;
use bellwether_verify::{Checker, run_suite};

use crate::providers::{Measuring, MetricProvider, ProviderError, Target, kind};
use crate::value::{Observation, Value};

pub struct VerifyProvider {
    checker: Checker,
    addresses: Arc<dyn AddressSource>,
}

impl VerifyProvider {
    pub fn new(addresses: Arc<dyn AddressSource>) -> Self {
        Self {
            checker: Checker::new(),
            addresses,
        }
    }
}

impl MetricProvider for VerifyProvider {
    fn measure<'a>(&'a self, spec: &'a ProviderSpec, target: &'a Target) -> Measuring<'a> {
        Box::pin(async move {
            let ProviderSpec::Verify { suite } = spec else {
                return Err(ProviderError::Mismatch {
                    provider: "verify",
                    kind: kind(spec),
                });
            };
            let address = self
                .addresses
                .address(&target.service, target.revision)
                .ok_or_else(|| ProviderError::NoAddress {
                    service: target.service.clone(),
                    revision: target.revision,
                })?;
            let report = run_suite(&self.checker, suite, Some(&address), |_| {}).await;
            let mut detail = report.to_string();
            for failed in report.checks.iter().filter(|c| !c.passed) {
                detail.push_str(&format!("; {failed}"));
            }
            Ok(Observation {
                value: Some(Value::Number(if report.passed { 1.0 } else { 0.0 })),
                detail: Some(detail),
                ..Observation::default()
            })
        })
    }
}
