//! `[retry.budget]` and `[downstream.throttle]`: the client-side overload controls, their defaults (gRPC's retry
//! throttling example, the SRE book's retry budget and adaptive throttling) and ranges.

use super::super::limits::{MAX_BUDGET_RATIO, MAX_BUDGET_TOKENS, THROTTLE_K, TOKEN_RATIO};
use super::super::reader::TableReader;
use super::super::*;

pub(super) fn budget(mut t: TableReader) -> Option<BudgetCfg> {
    let rule = match t.tag("kind", &["grpc", "ratio"])? {
        "grpc" => {
            let max_tokens = t.u32_in("max_tokens", 1, MAX_BUDGET_TOKENS).unwrap_or(DEFAULT_MAX_TOKENS);
            let (lo, hi) = TOKEN_RATIO;
            let range = format!("must lie within [{lo}, {hi}] (gRPC keeps three decimals of it)");
            let token_ratio = t.f64_where("token_ratio", |v| (lo..=hi).contains(&v), &range);
            BudgetRule::Grpc { max_tokens, token_ratio: token_ratio.unwrap_or(DEFAULT_TOKEN_RATIO) }
        }
        _ => {
            let range = format!("must be greater than 0 and at most {MAX_BUDGET_RATIO}");
            let ratio = t.f64_where("ratio", |v| v > 0.0 && v <= MAX_BUDGET_RATIO, &range);
            let window = t.timer("window").unwrap_or(DEFAULT_BUDGET_WINDOW);
            BudgetRule::Ratio { ratio: ratio.unwrap_or(DEFAULT_BUDGET_RATIO), window }
        }
    };
    let scope = t.choice("scope", &[BudgetScope::Consumer, BudgetScope::Service]).unwrap_or(BudgetScope::Consumer);
    t.finish();
    Some(BudgetCfg { rule, scope })
}

pub(super) fn throttle(mut t: TableReader) -> ThrottleCfg {
    let (lo, hi) = THROTTLE_K;
    let range =
        format!("must lie within [{lo}, {hi}]: below 1 it rejects calls the service accepts (the SRE book uses 2)");
    let k = t.f64_where("k", |v| (lo..=hi).contains(&v), &range).unwrap_or(DEFAULT_THROTTLE_K);
    let window = t.timer("window").unwrap_or(DEFAULT_THROTTLE_WINDOW);
    t.finish();
    ThrottleCfg { k, window }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{load, problems};
    use super::*;

    #[test]
    fn budgets_take_their_defaults_and_read_back_from_the_resolved_scenario() {
        let s = load("[retry.budget]\nkind = \"grpc\"\n", &[]).expect("loads");
        let grpc = BudgetRule::Grpc { max_tokens: 10, token_ratio: 0.1 };
        assert_eq!(s.retry.budget, Some(BudgetCfg { rule: grpc, scope: BudgetScope::Consumer }));
        let s = load("[retry]\nbudget = { kind = \"ratio\", scope = \"service\" }\n", &[]).expect("loads");
        let ratio = BudgetRule::Ratio { ratio: 0.1, window: Dur::from_secs(10) };
        assert_eq!(s.retry.budget, Some(BudgetCfg { rule: ratio, scope: BudgetScope::Service }));
        let toml = s.to_toml();
        assert!(
            toml.contains("[retry.budget]\nkind = \"ratio\"\nratio = 0.1\nwindow = \"10s\"\nscope = \"service\""),
            "{toml}"
        );
        assert_eq!(load(&toml, &[]).expect("the resolved scenario loads back"), s);
        // without the table nothing about budgets is written, so the scenario hashes of older runs stay
        assert!(!load("", &[]).unwrap().to_toml().contains("budget"));
    }

    #[test]
    fn malformed_budgets_name_the_key_the_line_and_the_fix() {
        let text = "[retry.budget]\nkind = \"grpc\"\nmax_tokens = 0\ntoken_ratio = 0.0001\nscope = \"global\"\n";
        assert_eq!(
            problems(text, &[]),
            [
                "line 3: `retry.budget.max_tokens = 0`: must be at least 1, got 0",
                "line 4: `retry.budget.token_ratio = 0.0001`: must lie within [0.001, 1000] (gRPC keeps three \
                 decimals of it), got 0.0001",
                "line 5: `retry.budget.scope = \"global\"`: expected one of \"consumer\", \"service\"",
            ]
        );
        let text = "[retry.budget]\nkind = \"ratio\"\nratio = 0\nwindow = \"0s\"\nmax_tokens = 5\n";
        assert_eq!(
            problems(text, &[]),
            [
                "line 3: `retry.budget.ratio = 0`: must be greater than 0 and at most 10000, got 0",
                "line 4: `retry.budget.window = \"0s\"`: must be at least 1us: a timer that fires more often spends \
                 the run on its ticks, got \"0s\"",
                "line 5: unknown key `max_tokens` in retry.budget (kind = \"ratio\"); valid keys: kind, ratio, \
                 window, scope",
            ]
        );
        let p = problems("[retry.budget]\nratio = 0.1\n", &[]);
        assert_eq!(p, ["line 1: [retry.budget] is missing the required key `kind`; add e.g. kind = \"grpc\""]);
    }

    #[test]
    fn throttling_takes_the_sre_books_defaults_and_refuses_a_k_below_1() {
        let s = load("[downstream]\n[downstream.throttle]\n", &[]).expect("loads");
        let d = s.downstream.as_ref().unwrap();
        assert_eq!(d.throttle, Some(ThrottleCfg { k: 2.0, window: Dur::from_secs(120) }));
        let toml = s.to_toml();
        assert!(toml.contains("[downstream.throttle]\nk = 2.0\nwindow = \"2m\""), "{toml}");
        assert_eq!(load(&toml, &[]).expect("the resolved scenario loads back"), s);
        assert!(!load("[downstream]\n", &[]).unwrap().to_toml().contains("throttle"));
        let p = problems("[downstream]\nthrottle = { k = 0.5, window = \"2\", K = 2 }\n", &[]);
        assert_eq!(
            p,
            [
                "line 2: `downstream.throttle.k = 0.5`: must lie within [1, 1000]: below 1 it rejects calls the \
                 service accepts (the SRE book uses 2), got 0.5",
                "line 2: `downstream.throttle.window = \"2\"`: `2` is not a duration (time unit needed, for example 2sec \
                 or 2ms); write e.g. \"250ms\", \"30s\", \"5m\", \"1h30m\"",
                "line 2: unknown key `K` in [downstream.throttle]; did you mean `k`?",
            ]
        );
    }
}
