//! The autoscaler: KEDA's queue-length trigger feeding the HPA (target messages per replica, polling interval,
//! scale-down stabilisation, cooldown to zero, replica start-up delay). By default it counts ready messages only,
//! as KEDA's AMQP mode does: messages held unacked by in-memory retries are invisible to it.

use super::consumer::{Consumer, Life};
use super::engine::Engine;
use super::events::Ev;
use crate::scenario::AutoscaleCfg;
use crate::time::Nanos;
use std::collections::VecDeque;

pub struct Autoscaler {
    cfg: AutoscaleCfg,
    /// Recent recommendations (time, replicas) for the scale-down stabilisation window.
    history: VecDeque<(Nanos, u32)>,
    last_active: Nanos,
}

impl Autoscaler {
    pub fn new(cfg: &AutoscaleCfg) -> Autoscaler {
        Autoscaler { cfg: cfg.clone(), history: VecDeque::new(), last_active: 0 }
    }

    pub fn polling_interval(&self) -> Nanos {
        self.cfg.polling_interval.ns().max(1)
    }

    /// Replicas wanted now, given the queue metric.
    pub fn decide(&mut self, now: Nanos, metric: u64) -> u32 {
        let c = &self.cfg;
        if metric > 0 {
            self.last_active = now;
        }
        let mut raw = metric.div_ceil(c.messages_per_replica).min(c.max_replicas as u64) as u32;
        raw = raw.max(c.min_replicas);
        if raw == 0 && now.saturating_sub(self.last_active) < c.cooldown.ns() {
            // KEDA keeps one replica until the cooldown after the last activity has passed.
            raw = 1;
        }
        let window = c.scale_down_stabilization.ns();
        self.history.push_back((now, raw));
        while self.history.front().is_some_and(|(t, _)| now.saturating_sub(*t) > window) {
            self.history.pop_front();
        }
        // HPA: scale down only to the highest recommendation within the stabilisation window.
        self.history.iter().map(|(_, r)| *r).max().unwrap_or(raw)
    }
}

impl Engine<'_> {
    pub(super) fn autoscale_poll(&mut self) {
        let Some(a) = &mut self.autoscaler else { return };
        let d = self.broker.depths();
        let count_unacked = self.cfg.autoscale.as_ref().is_some_and(|c| c.count_unacked);
        let metric = d.ready + if count_unacked { d.unacked } else { 0 };
        let wanted = a.decide(self.now, metric) as usize;
        let interval = a.polling_interval();
        self.q.push(self.now.saturating_add(interval), Ev::AutoscalePoll);
        let current = self.consumers.iter().filter(|c| c.is_replica()).count();
        if wanted != current {
            self.rec.scaled(wanted > current);
        }
        if wanted > current {
            let delay = self.cfg.autoscale.as_ref().map_or(0, |c| c.startup_delay.ns());
            for _ in current..wanted {
                let idx = match self.consumers.iter().position(|c| c.life == Life::Down) {
                    Some(i) => i,
                    None => {
                        self.consumers.push(Consumer::new(self.cfg));
                        self.consumers.len() - 1
                    }
                };
                let con = &mut self.consumers[idx];
                con.generation += 1;
                con.life = Life::Starting;
                let generation = con.generation;
                self.q.push(self.now.saturating_add(delay), Ev::ConsumerUp { consumer: idx as u32, generation });
            }
        } else if wanted < current {
            let victims: Vec<u32> = (0..self.consumers.len() as u32)
                .rev()
                .filter(|&i| self.consumers[i as usize].is_replica())
                .take(current - wanted)
                .collect();
            for c in victims {
                self.drain_consumer(c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Dur;

    const S: u64 = 1_000_000_000;

    fn cfg() -> AutoscaleCfg {
        AutoscaleCfg {
            min_replicas: 1,
            max_replicas: 10,
            messages_per_replica: 100,
            polling_interval: Dur(30 * S),
            cooldown: Dur(300 * S),
            scale_down_stabilization: Dur(300 * S),
            startup_delay: Dur(20 * S),
            count_unacked: false,
        }
    }

    #[test]
    fn scales_up_at_once_to_the_target_and_caps_at_max() {
        let mut a = Autoscaler::new(&cfg());
        assert_eq!(a.decide(0, 0), 1);
        assert_eq!(a.decide(30 * S, 450), 5);
        assert_eq!(a.decide(60 * S, 5000), 10);
    }

    #[test]
    fn scale_down_waits_for_the_stabilisation_window() {
        let mut a = Autoscaler::new(&cfg());
        assert_eq!(a.decide(0, 800), 8);
        assert_eq!(a.decide(30 * S, 0), 8, "still within 300 s of the 8-replica recommendation");
        assert_eq!(a.decide(300 * S, 0), 8);
        assert_eq!(a.decide(330 * S, 0), 1);
    }

    #[test]
    fn scale_to_zero_only_after_the_cooldown() {
        let mut a = Autoscaler::new(&AutoscaleCfg { min_replicas: 0, scale_down_stabilization: Dur(0), ..cfg() });
        assert_eq!(a.decide(0, 10), 1);
        assert_eq!(a.decide(100 * S, 0), 1, "cooldown of 300 s since the last message");
        assert_eq!(a.decide(301 * S, 0), 0);
    }
}
