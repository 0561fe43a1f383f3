//! The report as a compact table for a terminal: one line per party, within 100 columns,
//! so analysts can compare parties without leaving the shell.

use super::Report;

/// Terminal width the table must fit in.
pub const WIDTH: usize = 100;

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.1}%", x * 100.0)
    } else {
        "-".into()
    }
}

fn signed_pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:+.0}", x * 100.0)
    } else {
        "-".into()
    }
}

/// Cuts a party id to `n` characters so long ids do not break the columns.
fn fit(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('~');
        t
    }
}

/// Renders the comparison table (and the change table with `--compare`).
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let s = &report.aggs.summary;
    out.push_str(&fit(
        &format!(
            "{}: {} sentences, {} documents, {} with a speaker",
            report.title, s.sentences, s.documents, s.attributed
        ),
        WIDTH,
    ));
    out.push('\n');
    out.push_str(&format!(
        "{:<16} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7}  {}\n",
        "party", "n", "concil", "accus", "threat", "neutral", "net", "net 95% interval"
    ));
    for p in report.parties_by_size() {
        out.push_str(&format!(
            "{:<16} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7.2}  [{:.2}, {:.2}]\n",
            fit(&p.party, 16),
            p.sentences,
            pct(p.share[0]),
            pct(p.share[1]),
            pct(p.share[2]),
            pct(p.share[3]),
            p.net,
            p.net_low,
            p.net_high
        ));
    }
    if let Some(c) = &report.comparison {
        out.push('\n');
        out.push_str("Change, B minus A (net score; shares in percentage points)\n");
        out.push_str(&fit(&format!("  A = {}", c.label_a), WIDTH));
        out.push('\n');
        out.push_str(&fit(&format!("  B = {}", c.label_b), WIDTH));
        out.push('\n');
        out.push_str(&format!(
            "{:<16} {:>5} {:>5} {:>15}  {}\n",
            "party", "n A", "n B", "net A -> B", "change [95%]"
        ));
        for r in &c.rows {
            out.push_str(&format!(
                "{:<16} {:>5} {:>5} {:>15}  {:+.2} [{:+.2}, {:+.2}]\n",
                fit(&r.party, 16),
                r.sentences_a,
                r.sentences_b,
                format!("{:.2} -> {:.2}", r.net_a, r.net_b),
                r.net.0,
                r.net.1,
                r.net.2
            ));
        }
        out.push_str(&format!(
            "{:<16} {:>19} {:>19} {:>19} {:>19}\n",
            "share change", "concil [95%]", "accus [95%]", "threat [95%]", "neutral [95%]"
        ));
        for r in &c.rows {
            let cell = |(d, lo, hi): (f64, f64, f64)| {
                format!("{} [{}, {}]", signed_pct(d), signed_pct(lo), signed_pct(hi))
            };
            out.push_str(&format!(
                "{:<16} {:>19} {:>19} {:>19} {:>19}\n",
                fit(&r.party, 16),
                cell(r.share[0]),
                cell(r.share[1]),
                cell(r.share[2]),
                cell(r.share[3])
            ));
        }
        if c.rows.is_empty() {
            out.push_str("(no party speaks in both A and B)\n");
        }
    }
    out
}
