//! A send's summary, for people (one line, then the failures grouped by
//! the server's reply) or as JSON.

use std::collections::BTreeMap;

use crate::app::send::Summary;
use crate::send::FailedRecipient;

/// Prints the summary and returns its exit code.
pub fn finish(s: &Summary, json: bool) -> u8 {
    if json {
        super::print_json(s);
    } else if !s.dry_run {
        print(s);
    }
    s.exit_code
}

/// How many addresses a group names before "and N more".
const SHOWN: usize = 5;

fn print(s: &Summary) {
    println!(
        "{}: sent {}, failed {}, skipped {} (already sent {}, suppressed {}), not for this edition {}{} via {} in {:.1} s ({:.0}/s)",
        s.issue,
        s.sent,
        s.failed.len(),
        s.skipped_already_sent + s.skipped_suppressed,
        s.skipped_already_sent,
        s.skipped_suppressed,
        s.not_this_edition,
        if s.not_attempted > 0 {
            format!(", not attempted {}", s.not_attempted)
        } else {
            String::new()
        },
        s.transport,
        s.seconds,
        s.messages_per_second
    );
    for note in &s.relay_notes {
        println!("  {note}");
    }
    for r in &s.relays {
        println!(
            "  relay {}: sent {}{}{}{}",
            r.name,
            r.sent,
            if r.failed > 0 {
                format!(", failed {}", r.failed)
            } else {
                String::new()
            },
            match r.quota_left {
                Some(n) => format!(", {n} left of its daily quota"),
                None => String::new(),
            },
            match &r.down {
                Some(why) => format!("; was out of the run: {why}"),
                None => String::new(),
            }
        );
    }
    for (reply, group) in groups(&s.failed) {
        let suppressed = group.iter().filter(|f| f.suppressed).count();
        let mut who: Vec<&str> = group.iter().take(SHOWN).map(|f| f.email.as_str()).collect();
        let more = group.len().saturating_sub(SHOWN);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        who.sort_unstable();
        println!(
            "  failed {}: {reply} ({}{more}){}",
            group.len(),
            who.join(", "),
            match suppressed {
                0 => String::new(),
                n if n == group.len() => ", suppressed as hard bounces".into(),
                n => format!(", {n} suppressed as hard bounces"),
            }
        );
    }
    if let Some(a) = &s.aborted {
        if s.not_attempted > 0 {
            println!("  {} not attempted: {a}", s.not_attempted);
        } else {
            println!("  stopped early: {a}");
        }
    }
    if !s.invalid_rows.is_empty() {
        println!(
            "  {} invalid subscriber row(s) skipped (see warnings above)",
            s.invalid_rows.len()
        );
    }
    if let Some(a) = &s.archive {
        println!("  {a}");
    }
}

/// Failures by reply: the first recipient's reply text stands for its
/// group (texts differ only by the address they quote).
fn groups(failed: &[FailedRecipient]) -> Vec<(String, Vec<&FailedRecipient>)> {
    let mut by_kind: BTreeMap<(&str, bool), (String, Vec<&FailedRecipient>)> = BTreeMap::new();
    for f in failed {
        let gave_up = f.reply.starts_with("gave up");
        by_kind
            .entry((f.kind.as_str(), gave_up))
            .or_insert_with(|| (f.reply.clone(), Vec::new()))
            .1
            .push(f);
    }
    let mut out: Vec<_> = by_kind.into_values().collect();
    out.sort_by_key(|(_, g)| std::cmp::Reverse(g.len()));
    out
}
