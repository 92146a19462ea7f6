//! `gate.xml`: the checks as JUnit XML (one test suite per kind of check, one test case per check, failures with
//! a message), which CI systems display natively.

use super::{Check, Kind, Outcome};

/// What every gate.xml holds (how `loadtest gate` knows a gate.xml it may replace).
pub const MARK: &str = "<testsuites name=\"loadtest gate\"";

/// The whole document. Counts are per suite and in total; no check is an error or skipped.
pub fn render(o: &Outcome) -> String {
    let failures = o.failed().len();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!("{MARK} tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"0\">\n", o.checks.len()));
    for kind in [Kind::Threshold, Kind::Regression] {
        let checks: Vec<&Check> = o.checks.iter().filter(|c| c.kind == kind).collect();
        if checks.is_empty() {
            continue;
        }
        let failed = checks.iter().filter(|c| !c.passed).count();
        let suite = match kind {
            Kind::Threshold => format!("thresholds: {}", o.run),
            Kind::Regression => format!("regressions: {} vs {}", o.run, o.baseline.as_deref().unwrap_or("-")),
        };
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" skipped=\"0\" time=\"0\">\n",
            esc(&suite),
            checks.len()
        ));
        if !o.notes.is_empty() {
            out.push_str("    <properties>\n");
            for (i, n) in o.notes.iter().enumerate() {
                out.push_str(&format!("      <property name=\"note{}\" value=\"{}\"/>\n", i + 1, esc(n)));
            }
            out.push_str("    </properties>\n");
        }
        let class = format!("loadtest.gate.{}", kind.as_str());
        for c in checks {
            let open = format!("    <testcase classname=\"{class}\" name=\"{}\" time=\"0\"", esc(&c.name()));
            if c.passed {
                out.push_str(&format!("{open}/>\n"));
            } else {
                out.push_str(&format!(
                    "{open}>\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                    esc(&c.message()),
                    kind.as_str(),
                    esc(format!("value {}, {} {}\n{}", c.value, limit_word(kind), c.limit, c.note).trim_end()),
                ));
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn limit_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Threshold => "threshold",
        Kind::Regression => "baseline",
    }
}

/// XML attribute and text escaping; control characters XML 1.0 forbids are dropped.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_xml_cares_about() {
        assert_eq!(esc("a < b && c > \"d\" 'e'\n\u{1}"), "a &lt; b &amp;&amp; c &gt; &quot;d&quot; &apos;e&apos;&#10;");
    }
}
