//! Retrying Kubernetes API calls: 429 and 5xx answers and connection failures are retried
//! with exponential backoff and full jitter until a deadline; everything else is returned at
//! once. A 429's `Retry-After` is honoured as the least wait (within the deadline).

use std::future::Future;
use std::time::{Duration, Instant};

use super::error::LabsError;

/// Exponential backoff with full jitter (each wait uniform in `[0, min(max, base·2ⁿ)]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    /// How long one operation may keep retrying.
    pub deadline: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_secs(1),
            deadline: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// The wait before retry number `attempt` (0-based), jittered.
    pub fn wait(&self, attempt: u32) -> Duration {
        let cap = self.base.saturating_mul(1u32 << attempt.min(16)).min(self.max);
        // Full jitter (uniform in [0, cap]) from fastrand, already locked through backon:
        // backon's own jitter adds [0, delay) on top of the delay, which is not this policy.
        cap.mul_f64(fastrand::f64())
    }
}

/// Whether an answer is worth retrying: 429 Too Many Requests, 5xx, 409 Conflict on a stale
/// write is *not* (the caller re-reads), connection failures are.
// k8s.io/client-go/rest/request.go: retries on 429 and on 5xx with Retry-After; we retry all 5xx.
pub fn is_retriable(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => status.code == 429 || status.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// Seconds asked by a 429's `Retry-After` (kube puts the Status' `details.retryAfterSeconds`).
fn retry_after(error: &kube::Error) -> Option<Duration> {
    match error {
        kube::Error::Api(status) if status.code == 429 => status
            .details
            .as_ref()
            .map(|d| u64::from(d.retry_after_seconds))
            .filter(|s| *s > 0)
            .map(Duration::from_secs),
        _ => None,
    }
}

/// A kube error as a [`LabsError`] for `operation`.
pub fn api_error(operation: &str, error: kube::Error) -> LabsError {
    match error {
        kube::Error::Api(status) => LabsError::Api {
            operation: operation.to_string(),
            code: status.code,
            reason: status.reason.clone(),
            message: status.message.clone(),
        },
        other => LabsError::Unreachable { operation: operation.to_string(), message: other.to_string() },
    }
}

/// What one attempt of [`retry`] reports to its observer (metrics, logs).
pub type Observer<'a> = &'a (dyn Fn(&kube::Error) + Send + Sync);

/// Runs `call` until it succeeds, fails with an error that is not retriable, or `backoff`'s
/// deadline (from `started`) would be passed by the next wait.
pub async fn retry<T, F, Fut>(
    backoff: &Backoff,
    started: Instant,
    observe: Observer<'_>,
    mut call: F,
) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut attempt = 0u32;
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(error) => {
                observe(&error);
                if !is_retriable(&error) {
                    return Err(error);
                }
                let wait =
                    backoff.wait(attempt).max(retry_after(&error).unwrap_or_default().min(backoff.max));
                if started.elapsed() + wait > backoff.deadline {
                    return Err(error);
                }
                tokio::time::sleep(wait).await;
                attempt = attempt.saturating_add(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            message: "m".into(),
            reason: "r".into(),
            ..Default::default()
        }))
    }

    #[test]
    fn retriable_answers() {
        // (code, retried): client-go retries throttling and server errors, never 4xx verdicts
        for (code, retried) in [
            (429, true),
            (500, true),
            (503, true),
            (504, true),
            (409, false),
            (403, false),
            (404, false),
            (422, false),
        ] {
            assert_eq!(is_retriable(&status(code)), retried, "{code}");
        }
    }

    #[test]
    fn waits_grow_and_stay_under_the_cap() {
        let backoff = Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(100),
            deadline: Duration::from_secs(1),
        };
        for attempt in 0..20 {
            let cap = Duration::from_millis(10)
                .saturating_mul(1 << attempt.min(16))
                .min(Duration::from_millis(100));
            assert!(backoff.wait(attempt) <= cap);
        }
    }

    #[tokio::test]
    async fn retries_until_success_or_deadline() {
        let backoff = Backoff {
            base: Duration::from_millis(1),
            max: Duration::from_millis(5),
            deadline: Duration::from_millis(200),
        };
        let mut calls = 0;
        let result = retry(&backoff, Instant::now(), &|_| {}, || {
            calls += 1;
            let answer = if calls < 3 { Err(status(503)) } else { Ok(calls) };
            async move { answer }
        })
        .await;
        assert_eq!(result.unwrap(), 3);

        let result: Result<(), _> =
            retry(&backoff, Instant::now(), &|_| {}, || async { Err(status(500)) }).await;
        assert!(matches!(result, Err(kube::Error::Api(s)) if s.code == 500));

        let mut calls = 0;
        let result: Result<(), _> = retry(&backoff, Instant::now(), &|_| {}, || {
            calls += 1;
            async { Err(status(403)) }
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls, 1, "a 403 is final");
    }
}
