//! Retry budgets: gRPC's retry throttling (a token bucket: a failed attempt costs 1 token, a successful one adds
//! `token_ratio`, no retry while the tokens are at most half the bucket) and the SRE book's ratio budget (retries
//! at most `ratio` x the first attempts within a sliding window).

use super::window::Window;
use crate::scenario::{BudgetCfg, BudgetRule};
use crate::time::Nanos;

/// gRPC counts tokens in thousandths (it keeps three decimals of `token_ratio`).
const MILLI: u64 = 1_000;
/// The ratio budget's window is counted in this many buckets.
const BUCKETS: u64 = 10;

#[derive(Clone, Debug)]
pub enum RetryBudget {
    Tokens {
        /// In thousandths of a token.
        max: u64,
        ratio: u64,
        tokens: u64,
    },
    Ratio {
        ratio: f64,
        /// Counts 0: first attempts of deliveries; 1: retries let through.
        window: Window,
    },
}

impl RetryBudget {
    pub fn new(cfg: &BudgetCfg) -> RetryBudget {
        match cfg.rule {
            BudgetRule::Grpc { max_tokens, token_ratio } => {
                let max = u64::from(max_tokens) * MILLI;
                // truncated to three decimals as gRPC does; the epsilon keeps 0.29 from becoming 0.289
                let ratio = (token_ratio * MILLI as f64 + 1e-6).floor() as u64;
                RetryBudget::Tokens { max, ratio, tokens: max }
            }
            BudgetRule::Ratio { ratio, window } => {
                RetryBudget::Ratio { ratio, window: Window::new(window.ns(), BUCKETS) }
            }
        }
    }

    /// A delivery's first attempt starts (a request the ratio budget pays retries from).
    pub fn first_attempt(&mut self, now: Nanos) {
        if let RetryBudget::Ratio { window, .. } = self {
            window.add(now, 0);
        }
    }

    /// An attempt succeeded.
    pub fn success(&mut self) {
        if let RetryBudget::Tokens { max, ratio, tokens } = self {
            *tokens = (*tokens + *ratio).min(*max);
        }
    }

    /// An attempt failed with a kind the retry policy retries.
    pub fn failure(&mut self) {
        if let RetryBudget::Tokens { tokens, .. } = self {
            *tokens = tokens.saturating_sub(MILLI);
        }
    }

    /// May the failed attempt be retried now? A retry let through is counted against the budget.
    pub fn try_retry(&mut self, now: Nanos) -> bool {
        match self {
            RetryBudget::Tokens { max, tokens, .. } => *tokens > *max / 2,
            RetryBudget::Ratio { ratio, window } => {
                let [firsts, retries] = window.totals(now);
                let ok = (retries + 1) as f64 <= *ratio * firsts as f64;
                if ok {
                    window.add(now, 1);
                }
                ok
            }
        }
    }

    /// Tokens now (gRPC kind), for tests and reports.
    pub fn tokens(&self) -> Option<f64> {
        match self {
            RetryBudget::Tokens { tokens, .. } => Some(*tokens as f64 / MILLI as f64),
            RetryBudget::Ratio { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::BudgetScope;
    use crate::time::Dur;

    fn grpc(max_tokens: u32, token_ratio: f64) -> RetryBudget {
        RetryBudget::new(&BudgetCfg {
            rule: BudgetRule::Grpc { max_tokens, token_ratio },
            scope: BudgetScope::Consumer,
        })
    }

    #[test]
    fn grpc_tokens_fall_by_one_per_failure_and_retries_stop_at_half() {
        let mut b = grpc(10, 0.1);
        assert_eq!(b.tokens(), Some(10.0), "the bucket starts full");
        let mut allowed = Vec::new();
        for _ in 0..6 {
            b.failure();
            allowed.push((b.tokens().unwrap(), b.try_retry(0)));
        }
        // 9, 8, 7, 6 tokens: above the threshold of 5; at 5 (and below) no retry
        assert_eq!(allowed, [(9.0, true), (8.0, true), (7.0, true), (6.0, true), (5.0, false), (4.0, false)]);
        for _ in 0..20 {
            b.failure();
        }
        assert_eq!(b.tokens(), Some(0.0), "tokens never go below 0");
        // 0.1 per success: 50 successes bring it back to 5 (still throttled), the 51st above
        for _ in 0..50 {
            b.success();
        }
        assert_eq!((b.tokens(), b.try_retry(0)), (Some(5.0), false));
        b.success();
        assert_eq!((b.tokens(), b.try_retry(0)), (Some(5.1), true));
        for _ in 0..1000 {
            b.success();
        }
        assert_eq!(b.tokens(), Some(10.0), "capped at max_tokens");
        // three decimals, as gRPC keeps them: 0.29 adds 0.29, not 0.289
        let mut b = grpc(3, 0.29);
        for _ in 0..3 {
            b.failure();
        }
        b.success();
        assert_eq!(b.tokens(), Some(0.29));
    }

    #[test]
    fn the_ratio_budget_allows_ratio_times_first_attempts_in_its_window() {
        let cfg =
            BudgetCfg { rule: BudgetRule::Ratio { ratio: 0.1, window: Dur(10_000) }, scope: BudgetScope::Service };
        let mut b = RetryBudget::new(&cfg);
        for t in 0..25 {
            b.first_attempt(t);
        }
        // 25 first attempts: 2.5 retries, so 2
        let let_through: Vec<bool> = (0..4).map(|_| b.try_retry(100)).collect();
        assert_eq!(let_through, [true, true, false, false]);
        // once the first attempts slide out of the window, nothing is left to pay for a retry
        assert!(!b.try_retry(20_000));
        for t in 0..10 {
            b.first_attempt(20_000 + t);
        }
        assert!(b.try_retry(20_010), "the window holds 10 first attempts and no retry");
        assert!(!b.try_retry(20_010));
    }
}
