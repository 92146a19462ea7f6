//! Unit tests of the downstream model: queueing, overload crash, timeouts that keep working, outages.

use super::*;
use crate::scenario::CrashCfg;
use crate::time::{Dur, NS_PER_MS};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const MS: u64 = NS_PER_MS;

fn cfg(servers: u32) -> DownstreamCfg {
    DownstreamCfg {
        name: "payments".into(),
        servers,
        service_time: Dist::fixed(Dur(100 * MS)),
        timeout: None,
        on_timeout: OnTimeout::KeepWorking,
        queue_limit: None,
        errors: ErrorRates::default(),
        crash: None,
        throttle: None,
    }
}

fn caller(msg: u64) -> Caller {
    Caller { consumer: 0, slot: msg as u32, token: 1, msg }
}

/// Runs the downstream's own events until `until`, returning (time, notice) pairs.
fn run(d: &mut Downstream, q: &mut EventQueue, rng: &mut ChaCha8Rng, until: Nanos) -> Vec<(Nanos, Notice)> {
    let mut seen = Vec::new();
    while q.peek_time().is_some_and(|t| t <= until) {
        let (t, ev) = q.pop().unwrap();
        let mut n = Vec::new();
        match ev {
            Ev::ServerDone { req, token } => d.on_done(t, req, token, rng, q, &mut n),
            Ev::CrashCheck { generation } => d.on_crash_check(t, generation, q, &mut n),
            Ev::Restarted { generation } => d.on_restarted(generation),
            other => panic!("unexpected {other:?}"),
        }
        seen.extend(n.into_iter().map(|x| (t, x)));
    }
    seen
}

fn answers(v: &[(Nanos, Notice)]) -> Vec<(Nanos, u64, CallResult)> {
    v.iter()
        .filter_map(|(t, n)| match n {
            Notice::Answer { caller, result } => Some((*t / MS, caller.msg, *result)),
            _ => None,
        })
        .collect()
}

#[test]
fn servers_work_in_parallel_and_the_rest_wait_in_line() {
    let mut d = Downstream::new(&cfg(2));
    let (mut q, mut rng, mut n) = (EventQueue::default(), ChaCha8Rng::seed_from_u64(1), Vec::new());
    for m in 0..5 {
        assert!(matches!(d.call(0, caller(m), &mut rng, &mut q, &mut n), Call::Pending { req: Some(_) }));
    }
    assert_eq!(d.in_system(), 5);
    assert!((d.capacity_now() - 20.0).abs() < 1e-9, "2 servers x 100 ms = 20 req/s");
    let got = answers(&run(&mut d, &mut q, &mut rng, u64::MAX));
    assert_eq!(got, vec![(100, 0, Ok(())), (100, 1, Ok(())), (200, 2, Ok(())), (200, 3, Ok(())), (300, 4, Ok(()))]);
    assert_eq!(d.in_system(), 0);
}

#[test]
fn overload_crash_fails_everyone_at_once_and_refuses_until_restarted() {
    let mut c = cfg(1);
    c.crash = Some(CrashCfg { when_in_system_above: 3, after: Dur(50 * MS), restart: Dur(1000 * MS) });
    let mut d = Downstream::new(&c);
    let (mut q, mut rng, mut n) = (EventQueue::default(), ChaCha8Rng::seed_from_u64(1), Vec::new());
    for m in 0..4 {
        d.call(0, caller(m), &mut rng, &mut q, &mut n);
    }
    assert!(n.is_empty(), "overloaded, but not yet for 50 ms");
    let got = run(&mut d, &mut q, &mut rng, 60 * MS);
    assert_eq!(got.iter().filter(|(_, x)| *x == Notice::Crashed).count(), 1);
    let failed = answers(&got);
    assert_eq!(failed.len(), 4);
    assert!(failed.iter().all(|(t, _, r)| *t == 50 && *r == Err(FailureKind::Transient)));
    assert_eq!(d.crashes, 1);
    assert_eq!(d.call(100 * MS, caller(9), &mut rng, &mut q, &mut n), Call::Refused { after: 0 });
    assert_eq!(d.capacity_now(), 0.0);
    run(&mut d, &mut q, &mut rng, 1050 * MS);
    assert!(d.is_up());
    assert!(matches!(d.call(1100 * MS, caller(10), &mut rng, &mut q, &mut n), Call::Pending { .. }));
}

#[test]
fn overload_that_subsides_in_time_does_not_crash() {
    let mut c = cfg(1);
    c.crash = Some(CrashCfg { when_in_system_above: 1, after: Dur(150 * MS), restart: Dur(1000 * MS) });
    let mut d = Downstream::new(&c);
    let (mut q, mut rng, mut n) = (EventQueue::default(), ChaCha8Rng::seed_from_u64(1), Vec::new());
    d.call(0, caller(0), &mut rng, &mut q, &mut n);
    d.call(0, caller(1), &mut rng, &mut q, &mut n);
    let got = run(&mut d, &mut q, &mut rng, u64::MAX);
    assert_eq!(d.crashes, 0, "{got:?}");
    assert_eq!(answers(&got).len(), 2);
}

#[test]
fn abandoned_work_keeps_costing_capacity_unless_cancelled() {
    for (mode, expected_last) in [(OnTimeout::KeepWorking, 300), (OnTimeout::Cancel, 200)] {
        let mut c = cfg(1);
        c.on_timeout = mode;
        let mut d = Downstream::new(&c);
        let (mut q, mut rng, mut n) = (EventQueue::default(), ChaCha8Rng::seed_from_u64(1), Vec::new());
        let mut reqs = Vec::new();
        for m in 0..3 {
            match d.call(0, caller(m), &mut rng, &mut q, &mut n) {
                Call::Pending { req } => reqs.push(req),
                other => panic!("{other:?}"),
            }
        }
        // the caller of message 1 gives up at 50 ms while its request waits for the server
        d.abandon(50 * MS, reqs[1], caller(1), &mut q, &mut n);
        let got = run(&mut d, &mut q, &mut rng, u64::MAX);
        let a = answers(&got);
        assert_eq!(a.iter().map(|x| x.1).collect::<Vec<_>>(), vec![0, 2], "{mode:?}: no answer for the abandoned call");
        assert_eq!(a.last().unwrap().0, expected_last, "{mode:?}");
        let effects = got.iter().filter(|(_, x)| matches!(x, Notice::SideEffect { .. })).count();
        assert_eq!(effects, if mode == OnTimeout::KeepWorking { 3 } else { 2 }, "{mode:?}");
    }
}

#[test]
fn outages_refuse_or_hang_and_reset_calls_in_progress() {
    let mut d = Downstream::new(&cfg(1));
    let (mut q, mut rng, mut n) = (EventQueue::default(), ChaCha8Rng::seed_from_u64(1), Vec::new());
    d.call(0, caller(0), &mut rng, &mut q, &mut n);
    d.set_outage(0, Some((OutageMode::Refuse, 0)), &mut rng, &mut q, &mut n);
    assert_eq!(answers(&n.iter().map(|x| (0, *x)).collect::<Vec<_>>()), vec![(0, 0, Err(FailureKind::Transient))]);
    assert_eq!(d.call(1, caller(1), &mut rng, &mut q, &mut n), Call::Refused { after: 0 });
    // refuse_after: the refusal comes after the connect delay
    d.set_outage(1, Some((OutageMode::Refuse, 3_000 * MS)), &mut rng, &mut q, &mut n);
    assert_eq!(d.call(1, caller(1), &mut rng, &mut q, &mut n), Call::Refused { after: 3_000 * MS });
    d.set_outage(2, Some((OutageMode::Hang, 0)), &mut rng, &mut q, &mut n);
    assert_eq!(d.call(2, caller(2), &mut rng, &mut q, &mut n), Call::Pending { req: None });
    d.set_outage(3, None, &mut rng, &mut q, &mut n);
    assert!(d.is_up());
    // the stale completion of the reset request must not answer anyone
    let got = run(&mut d, &mut q, &mut rng, u64::MAX);
    assert!(answers(&got).is_empty(), "{got:?}");
}

#[test]
fn a_stall_queues_calls_freezes_work_in_service_and_then_serves_everything() {
    let mut d = Downstream::new(&cfg(1));
    let (mut q, mut rng, mut n) = (EventQueue::default(), ChaCha8Rng::seed_from_u64(1), Vec::new());
    // message 0 is in service until 100 ms; the stall begins at 50 ms and lasts a second
    let req0 = match d.call(0, caller(0), &mut rng, &mut q, &mut n) {
        Call::Pending { req } => req,
        other => panic!("{other:?}"),
    };
    assert!(run(&mut d, &mut q, &mut rng, 50 * MS).is_empty());
    d.set_outage(50 * MS, Some((OutageMode::Stall, 0)), &mut rng, &mut q, &mut n);
    assert!(n.is_empty(), "a stall resets nothing");
    assert_eq!(d.capacity_now(), 0.0);
    // calls are accepted and queued, none is served; the caller of message 1 gives up while it waits
    for m in 1..=3 {
        assert!(matches!(d.call(60 * MS, caller(m), &mut rng, &mut q, &mut n), Call::Pending { req: Some(_) }));
    }
    assert_eq!(d.in_system(), 4);
    assert!(run(&mut d, &mut q, &mut rng, 1_000 * MS).is_empty(), "nothing finishes during the stall");
    let req1 = Some(req0.unwrap() + 1);
    d.abandon(900 * MS, req1, caller(1), &mut q, &mut n);
    d.set_outage(1_050 * MS, None, &mut rng, &mut q, &mut n);
    let got = run(&mut d, &mut q, &mut rng, u64::MAX);
    // message 0 had 50 ms of work left: it finishes at 1,100 ms; then the queue, the abandoned call included (it
    // costs its 100 ms and its side effect happens, but nobody hears the answer)
    assert_eq!(answers(&got), vec![(1_100, 0, Ok(())), (1_300, 2, Ok(())), (1_400, 3, Ok(()))]);
    let effects: Vec<_> =
        got.iter().filter(|(_, x)| matches!(x, Notice::SideEffect { .. })).map(|(t, _)| t / MS).collect();
    assert_eq!(effects, [1_100, 1_200, 1_300, 1_400]);
    assert_eq!(d.in_system(), 0);
}

#[test]
fn queue_limit_refuses_excess_and_error_rates_are_drawn() {
    let mut c = cfg(1);
    c.queue_limit = Some(1);
    let mut d = Downstream::new(&c);
    let (mut q, mut rng, mut n) = (EventQueue::default(), ChaCha8Rng::seed_from_u64(1), Vec::new());
    assert!(matches!(d.call(0, caller(0), &mut rng, &mut q, &mut n), Call::Pending { .. }));
    assert!(matches!(d.call(0, caller(1), &mut rng, &mut q, &mut n), Call::Pending { .. }));
    assert_eq!(d.call(0, caller(2), &mut rng, &mut q, &mut n), Call::Refused { after: 0 });

    let mut c = cfg(1000);
    c.errors = ErrorRates { transient: 0.2, timeout: 0.1, validation: 0.05 };
    let mut d = Downstream::new(&c);
    let (mut hung, mut transient, mut validation) = (0, 0, 0);
    let total = 20_000;
    for m in 0..total {
        if d.call(0, caller(m), &mut rng, &mut q, &mut n) == (Call::Pending { req: None }) {
            hung += 1;
        }
    }
    for (_, x) in run(&mut d, &mut q, &mut rng, u64::MAX) {
        match x {
            Notice::Answer { result: Err(FailureKind::Transient), .. } => transient += 1,
            Notice::Answer { result: Err(FailureKind::Validation), .. } => validation += 1,
            _ => {}
        }
    }
    let share = |k: i32| k as f64 / total as f64;
    assert!((share(hung) - 0.1).abs() < 0.01, "{hung}");
    assert!((share(transient) - 0.2).abs() < 0.01, "{transient}");
    assert!((share(validation) - 0.05).abs() < 0.01, "{validation}");
}
