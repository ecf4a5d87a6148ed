//! A send's summary, for people (one line, then the failures) or as JSON.

use crate::app::send::Summary;

/// Prints the summary and returns its exit code.
pub fn finish(s: &Summary, json: bool) -> u8 {
    if json {
        println!("{}", serde_json::to_string_pretty(s).unwrap_or_default());
    } else if !s.dry_run {
        print(s);
    }
    s.exit_code
}

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
    for f in &s.failed {
        println!(
            "  failed: {} after {}: {}{}",
            f.email,
            super::plural(f.attempts as usize, "attempt"),
            f.reply,
            if f.suppressed {
                " (suppressed as a hard bounce)"
            } else {
                ""
            }
        );
    }
    if let Some(a) = &s.aborted {
        println!("  stopped early: {a}");
    }
    if !s.invalid_rows.is_empty() {
        println!(
            "  {} invalid subscriber row(s) skipped (see warnings above)",
            s.invalid_rows.len()
        );
    }
}
