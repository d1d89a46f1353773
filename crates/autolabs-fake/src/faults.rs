//! Deterministic fault injection: chosen failures at chosen rates, from a seeded generator,
//! so a failing test replays exactly.
//!
//! A [`FaultConfig`] holds a fixed latency added to every API request, rules that fail
//! requests ([`FaultRule`]: which verbs and resources, how often, with which status, how many
//! times at most), and a limit of events after which watch connections are dropped. It is
//! set at start ([`FakeConfig::faults`](super::FakeConfig)) and can be replaced at run time
//! through [`Faults::set`].

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::status::Status;

/// The API verbs, as RBAC and audit name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
}

impl Verb {
    /// The verb as RBAC and audit logs spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }
}

/// The failure a rule injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectedError {
    /// 429 with `Retry-After: <seconds>`.
    TooManyRequests { retry_after_seconds: u32 },
    /// 500 InternalError.
    InternalError,
    /// 503 ServiceUnavailable.
    ServiceUnavailable,
    /// 409 Conflict worded as a stale-resourceVersion conflict (for writes to one object).
    Conflict,
}

/// Fails matching requests with `error`, each with probability `rate`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    /// Verbs it applies to; empty means every verb.
    pub verbs: Vec<Verb>,
    /// Resource (plural, e.g. `pods`) it applies to; `None` means every resource.
    pub resource: Option<String>,
    /// Probability in `[0, 1]`.
    pub rate: f64,
    pub error: InjectedError,
    /// Stop after failing this many requests.
    pub max_hits: Option<u32>,
}

impl FaultRule {
    /// A rule that fails every request with `error`.
    pub fn always(error: InjectedError) -> Self {
        FaultRule { verbs: Vec::new(), resource: None, rate: 1.0, error, max_hits: None }
    }

    pub fn verbs(mut self, verbs: impl IntoIterator<Item = Verb>) -> Self {
        self.verbs = verbs.into_iter().collect();
        self
    }

    pub fn resource(mut self, plural: impl Into<String>) -> Self {
        self.resource = Some(plural.into());
        self
    }

    pub fn rate(mut self, rate: f64) -> Self {
        self.rate = rate;
        self
    }

    pub fn times(mut self, hits: u32) -> Self {
        self.max_hits = Some(hits);
        self
    }

    fn applies(&self, verb: Verb, plural: &str) -> bool {
        (self.verbs.is_empty() || self.verbs.contains(&verb))
            && self.resource.as_deref().is_none_or(|r| r == plural)
    }
}

/// Everything the fault injector does.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultConfig {
    /// Seed of the generator that decides which requests fail.
    pub seed: u64,
    /// Added before every API request is served.
    pub latency: Duration,
    pub rules: Vec<FaultRule>,
    /// Close each watch connection after it has sent this many events (bookmarks excluded).
    pub drop_watch_after_events: Option<u32>,
}

impl FaultConfig {
    /// No faults.
    pub fn none() -> Self {
        FaultConfig::default()
    }

    pub fn with_rule(mut self, rule: FaultRule) -> Self {
        self.rules.push(rule);
        self
    }
}

#[derive(Debug)]
struct FaultState {
    config: FaultConfig,
    /// Seeded from the config: the same seed fails the same requests.
    rng: fastrand::Rng,
    hits: Vec<u32>,
    injected: u64,
}

/// The live fault settings of a running server (cheap to clone).
#[derive(Debug, Clone)]
pub struct Faults {
    state: Arc<Mutex<FaultState>>,
}

/// What to do to one request.
#[derive(Debug, Clone)]
pub struct Decision {
    pub latency: Duration,
    pub failure: Option<Status>,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Self {
        let hits = vec![0; config.rules.len()];
        let rng = fastrand::Rng::with_seed(config.seed);
        Faults { state: Arc::new(Mutex::new(FaultState { config, rng, hits, injected: 0 })) }
    }

    fn lock(&self) -> MutexGuard<'_, FaultState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Replaces the configuration (and restarts the generator from its seed).
    pub fn set(&self, config: FaultConfig) {
        let mut state = self.lock();
        state.hits = vec![0; config.rules.len()];
        state.rng = fastrand::Rng::with_seed(config.seed);
        state.config = config;
    }

    /// Removes every fault.
    pub fn clear(&self) {
        self.set(FaultConfig::none());
    }

    /// The configuration in force.
    pub fn get(&self) -> FaultConfig {
        self.lock().config.clone()
    }

    /// How many requests have been failed on purpose so far.
    pub fn injected(&self) -> u64 {
        self.lock().injected
    }

    pub(crate) fn drop_watch_after(&self) -> Option<u32> {
        self.lock().config.drop_watch_after_events
    }

    /// Decides the fate of one request: the first matching rule that fires fails it.
    pub(crate) fn decide(&self, verb: Verb, plural: &str, name: &str, group: &str) -> Decision {
        let mut state = self.lock();
        let latency = state.config.latency;
        let mut failure = None;
        for index in 0..state.config.rules.len() {
            let rule = state.config.rules[index].clone();
            if !rule.applies(verb, plural) || rule.max_hits.is_some_and(|max| state.hits[index] >= max) {
                continue;
            }
            let roll = state.rng.f64();
            if roll < rule.rate {
                state.hits[index] += 1;
                failure = Some(match rule.error {
                    InjectedError::TooManyRequests { retry_after_seconds } => {
                        Status::too_many_requests(retry_after_seconds)
                    }
                    InjectedError::InternalError => Status::internal("injected fault"),
                    InjectedError::ServiceUnavailable => Status::service_unavailable(
                        "injected fault: the server is currently unable to handle the request",
                    ),
                    InjectedError::Conflict => Status::conflict(plural, group, name),
                });
                break;
            }
        }
        if failure.is_some() {
            state.injected += 1;
        }
        Decision { latency, failure }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_replays_the_same_failures_at_about_the_rate() {
        let config = |seed| {
            FaultConfig { seed, ..FaultConfig::none() }
                .with_rule(FaultRule::always(InjectedError::InternalError).rate(0.5))
        };
        let fates = |faults: &Faults| -> Vec<bool> {
            (0..1000).map(|_| faults.decide(Verb::Get, "pods", "p", "").failure.is_some()).collect()
        };
        let first = fates(&Faults::new(config(42)));
        assert_eq!(first, fates(&Faults::new(config(42))), "same seed, same failures");
        assert_ne!(first, fates(&Faults::new(config(43))), "another seed, other failures");
        let failed = first.iter().filter(|f| **f).count();
        assert!((400..600).contains(&failed), "{failed} of 1000 at rate 0.5");
    }

    #[test]
    fn rules_match_verbs_resources_and_hit_limits() {
        let faults = Faults::new(
            FaultConfig::none().with_rule(
                FaultRule::always(InjectedError::TooManyRequests { retry_after_seconds: 1 })
                    .verbs([Verb::Create])
                    .resource("pods")
                    .times(2),
            ),
        );
        assert!(faults.decide(Verb::Get, "pods", "p", "").failure.is_none());
        assert!(faults.decide(Verb::Create, "services", "p", "").failure.is_none());
        assert_eq!(faults.decide(Verb::Create, "pods", "p", "").failure.unwrap().code, 429);
        assert_eq!(faults.decide(Verb::Create, "pods", "p", "").failure.unwrap().code, 429);
        assert!(faults.decide(Verb::Create, "pods", "p", "").failure.is_none());
        assert_eq!(faults.injected(), 2);
    }

    #[test]
    fn rates_are_reproducible_from_the_seed() {
        let config = FaultConfig { seed: 7, ..FaultConfig::none() }
            .with_rule(FaultRule::always(InjectedError::ServiceUnavailable).rate(0.3));
        let run = || {
            let faults = Faults::new(config.clone());
            (0..200).map(|_| faults.decide(Verb::Get, "pods", "", "").failure.is_some()).collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        let failed = first.iter().filter(|f| **f).count();
        assert!((30..90).contains(&failed), "{failed}");
    }
}
