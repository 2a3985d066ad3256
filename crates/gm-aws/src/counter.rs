//! Counts every HTTP request the SDK sends (retries included), by operation.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Request counts, shared by every client built with one [`CountingInterceptor`].
#[derive(Debug, Default)]
pub struct RequestCounter {
    total: AtomicU64,
    by_operation: Mutex<BTreeMap<String, u64>>,
}

impl RequestCounter {
    /// Requests sent so far.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Counts one request of `operation` (the SDK interceptor does this for real clients; a
    /// simulator calls it itself).
    pub fn record(&self, operation: &str) {
        self.total.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut m) = self.by_operation.lock() {
            *m.entry(operation.to_string()).or_default() += 1;
        }
    }

    /// Requests per operation name.
    pub fn by_operation(&self) -> BTreeMap<String, u64> {
        self.by_operation
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }
}

/// The SDK interceptor that feeds a [`RequestCounter`].
#[derive(Debug, Clone)]
pub struct CountingInterceptor(pub Arc<RequestCounter>);

impl Intercept for CountingInterceptor {
    fn name(&self) -> &'static str {
        "geusemaker-request-counter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg.load::<Metadata>().map_or("unknown", |m| m.name());
        self.0.record(op);
        Ok(())
    }
}
