//! Habits from other tools: when a command line does not parse, flags of RabbitMQ PerfTest and k6 get a line that
//! says what to write here instead (the parse error itself is printed as it is).

/// (flag, another tool, what to write here). A flag is matched alone or as `--flag=value`.
const FLAGS: &[(&str, &str, &str)] = &[
    ("-x", "PerfTest's producer count", "--set producers.count=N"),
    ("--producers", "PerfTest's producer count", "--set producers.count=N"),
    ("-y", "PerfTest's consumer count", "--consumers N"),
    ("-r", "PerfTest's publishing rate", "--rate R (messages per second)"),
    ("-q", "PerfTest's prefetch (QoS)", "--prefetch N (here -q is --quiet)"),
    ("--qos", "PerfTest's prefetch (QoS)", "--prefetch N"),
    ("-s", "PerfTest's message size", "--size BYTES"),
    ("-C", "PerfTest's message count", "--messages N"),
    ("--pmessages", "PerfTest's message count", "--messages N"),
    ("-z", "PerfTest's run time", "--set producers.for=\"60s\" (produce for that long)"),
    ("--time", "PerfTest's run time", "--set producers.for=\"60s\" (produce for that long)"),
    ("-u", "PerfTest's queue name", "--set queue.name=NAME"),
    ("--queue", "PerfTest's queue name", "--set queue.name=NAME"),
    ("-h", "PerfTest's broker URI", "--broker URL (here -h is --help)"),
    ("--uri", "PerfTest's broker URI", "--broker URL"),
    ("--vus", "k6's virtual users", "--rate R: load here is an arrival rate, not users (and --consumers N)"),
    ("-u", "k6's virtual users", "--rate R: load here is an arrival rate, not users (and --consumers N)"),
    ("--iterations", "k6's iteration count", "--messages N"),
    ("-i", "k6's iteration count", "--messages N"),
    ("--duration", "k6's duration", "--set producers.for=\"10m\" (produce for that long; `duration` is a hard stop)"),
    ("-d", "k6's duration", "--set producers.for=\"10m\" (produce for that long; `duration` is a hard stop)"),
    (
        "--threshold",
        "a k6 threshold",
        "a [thresholds] entry, e.g. \"latency_ms.p99\" = \"< 2000\", then `loadtest gate`",
    ),
    ("--out", "k6's --out (outputs)", "--out DIR is the report folder here (summary.json, CSV, charts, HTML)"),
];

/// The hints for a command line that clap refused: one line per foreign flag found, none if there is none.
pub fn hints(args: &[String]) -> Vec<String> {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for (i, arg) in args.iter().enumerate().skip(1) {
        let flag = arg.split_once('=').map_or(arg.as_str(), |(f, _)| f);
        let next = args.get(i + 1).map_or("", String::as_str);
        // Our own short and long flags of the same name are hinted only where they cannot have been meant as ours:
        // `-q 100` (our -q takes no value), `-h amqp://...`, k6's `--out json=file`.
        let foreign = match flag {
            "-q" => next.parse::<u64>().is_ok(),
            "-h" => next.contains("://"),
            "--out" => next.contains('=') || arg.matches('=').count() > 1,
            _ => true,
        };
        for &(f, tool, here) in FLAGS {
            if f == flag && foreign && !seen.contains(&tool) {
                seen.push(tool);
                out.push(format!("hint: `{flag}` looks like {tool}; here write {here}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn perftest_and_k6_flags_get_their_equivalents() {
        let h = hints(&args(&["loadtest", "run", "s.toml", "-x", "2", "-y", "4", "-r", "100"]));
        assert_eq!(h.len(), 3, "{h:?}");
        assert!(h[0].contains("--set producers.count=N"));
        assert!(h[1].contains("--consumers N"));
        assert!(h[2].contains("--rate R"));
        let h = hints(&args(&["loadtest", "run", "s.toml", "--vus=10", "--duration", "30s"]));
        assert!(h[0].starts_with("hint: `--vus` looks like k6's virtual users"), "{h:?}");
        assert!(h[1].contains("duration"));
        assert!(hints(&args(&["loadtest", "run", "s.toml", "--out", "dir"])).is_empty(), "--out is ours");
        assert!(hints(&args(&["loadtest", "run", "--bogus"])).is_empty());
        assert!(hints(&args(&["loadtest", "run", "-q", "s.toml", "--bogus"])).is_empty(), "our -q");
        assert!(hints(&args(&["loadtest", "run", "-q", "100", "s.toml"]))[0].contains("--prefetch N"));
        assert!(hints(&args(&["loadtest", "run", "s.toml", "--out", "json=k6.json"]))[0].contains("report folder"));
    }
}
