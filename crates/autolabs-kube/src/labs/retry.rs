//! Retrying Kubernetes API calls: 429 and 5xx answers and connection failures are retried
//! with exponential backoff and jitter until a deadline; everything else is returned at
//! once. A 429's `Retry-After` is honoured as the least wait (within the deadline).
//!
//! The loop is backon's (`Retryable::retry` with `when` and `adjust`). Its jitter adds a
//! random `[0, delay)` to each delay instead of drawing the whole wait from `[0, cap]`, so
//! our policy follows it: the delays start at half of [`Backoff::base`] and stop growing at
//! half of [`Backoff::max`], which makes each wait uniform in `[cap/2, cap)` with
//! `cap = min(max, base·2ⁿ)` ("equal jitter": the same upper bound as before, and never a
//! retry at once). The deadline is wall time since the operation started, calls included,
//! which backon's `total_delay` (the sum of its sleeps) cannot say: `adjust` checks it.

use std::future::Future;
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};

use super::error::LabsError;

/// Exponential backoff with jitter (each wait uniform in `[cap/2, cap)`, `cap = min(max, base·2ⁿ)`).
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
    /// The waits between attempts, as backon draws them: each uniform in `[cap/2, cap)` for
    /// `cap = min(max, base·2ⁿ)` (see the module's doc), without end; [`retry`] stops at the
    /// deadline.
    pub fn waits(&self) -> ExponentialBuilder {
        let first = self.base.min(self.max);
        ExponentialBuilder::default()
            .with_min_delay(first / 2)
            .with_max_delay(self.max / 2)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
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
    let calls = || {
        let attempt = call();
        async move {
            let result = attempt.await;
            if let Err(error) = &result {
                observe(error);
            }
            result
        }
    };
    calls
        .retry(backoff.waits())
        .sleep(tokio::time::sleep)
        .when(is_retriable)
        .adjust(|error, next| {
            let wait = next?.max(retry_after(error).unwrap_or_default().min(backoff.max));
            (started.elapsed() + wait <= backoff.deadline).then_some(wait)
        })
        .await
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
    fn waits_grow_and_stay_between_half_the_cap_and_the_cap() {
        use backon::BackoffBuilder;
        let backoff = Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(100),
            deadline: Duration::from_secs(1),
        };
        for (attempt, wait) in backoff.waits().build().take(20).enumerate() {
            let cap = Duration::from_millis(10)
                .saturating_mul(1 << attempt.min(16))
                .min(Duration::from_millis(100));
            // backon computes in f32 seconds: a microsecond of slack.
            let slack = Duration::from_micros(1);
            assert!(wait + slack >= cap / 2 && wait <= cap + slack, "{attempt}: {wait:?} of {cap:?}");
        }
    }

    #[tokio::test]
    async fn the_deadline_is_wall_time_and_every_error_is_observed() {
        let backoff = Backoff {
            base: Duration::from_millis(1),
            max: Duration::from_millis(2),
            deadline: Duration::from_millis(50),
        };
        // An operation that started long ago has no time left to retry in.
        let long_ago = Instant::now() - Duration::from_secs(1);
        let seen = std::sync::atomic::AtomicUsize::new(0);
        let observe = |_: &kube::Error| {
            seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        };
        let result: Result<(), _> = retry(&backoff, long_ago, &observe, || async { Err(status(503)) }).await;
        assert!(result.is_err());
        assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), 1, "one call, observed, no retry");
        // A 429's Retry-After beyond the deadline ends the retries too (it is the least wait).
        let throttled = || async {
            Err::<(), _>(kube::Error::Api(Box::new(kube::core::Status {
                code: 429,
                details: Some(kube::core::response::StatusDetails {
                    name: String::new(),
                    group: String::new(),
                    kind: String::new(),
                    uid: String::new(),
                    causes: Vec::new(),
                    retry_after_seconds: 1,
                }),
                ..Default::default()
            })))
        };
        let slow = Backoff { max: Duration::from_secs(2), ..backoff };
        assert!(retry(&slow, Instant::now(), &observe, throttled).await.is_err());
        assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), 2);
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
