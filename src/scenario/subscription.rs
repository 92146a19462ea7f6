//! `[[subscriptions]]`: one event stream, several services (the course's pub/sub). Each subscription is a queue of
//! its own, with its own consumers, retry, redelivery, downstream and faults, fed by the scenario's producers.

use super::*;

/// One subscription, resolved: the top level's sections with what the subscription writes merged over them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Subscription {
    pub name: String,
    pub queue: QueueCfg,
    pub consumers: ConsumerCfg,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downstream: Option<DownstreamCfg>,
    pub retry: RetryCfg,
    pub redelivery: RedeliveryCfg,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<BreakerCfg>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kill_switch: Option<KillSwitchCfg>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autoscale: Option<AutoscaleCfg>,
    /// Always written, `[]` included: a subscription's empty list replaces the top level's faults.
    pub faults: Vec<Fault>,
}

/// The sections a subscription may write (besides `name`); everything else is the producers' and the run's.
pub const SECTIONS: [&str; 9] = [
    "queue",
    "consumers",
    "downstream",
    "retry",
    "redelivery",
    "circuit_breaker",
    "kill_switch",
    "autoscale",
    "faults",
];

impl Subscription {
    /// Takes the subscription's sections out of the scenario loaded from its merged tree.
    pub fn from_scenario(name: String, s: Scenario) -> Subscription {
        Subscription {
            name,
            queue: s.queue,
            consumers: s.consumers,
            downstream: s.downstream,
            retry: s.retry,
            redelivery: s.redelivery,
            circuit_breaker: s.circuit_breaker,
            kill_switch: s.kill_switch,
            autoscale: s.autoscale,
            faults: s.faults,
        }
    }
}

impl Scenario {
    /// The scenario one subscription runs: the producers, seed and run settings of this one, the subscription's
    /// queue and consumer side, named `<scenario>.<subscription>`. It has no subscriptions itself, so its
    /// `scenario.toml` re-runs that subscription alone, with the same figures.
    pub fn for_subscription(&self, sub: &Subscription) -> Scenario {
        let s = sub.clone();
        Scenario {
            name: format!("{}.{}", self.name, s.name),
            queue: s.queue,
            consumers: s.consumers,
            downstream: s.downstream,
            retry: s.retry,
            redelivery: s.redelivery,
            circuit_breaker: s.circuit_breaker,
            kill_switch: s.kill_switch,
            autoscale: s.autoscale,
            faults: s.faults,
            subscriptions: Vec::new(),
            thresholds: Thresholds::default(),
            ..self.clone()
        }
    }
}
