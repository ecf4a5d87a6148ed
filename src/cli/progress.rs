//! The progress bar (rate and ETA) on a terminal; nothing otherwise, so logs
//! from cron stay one summary line.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn new(total: u64, quiet: bool) -> Progress {
        let bar = if quiet || !std::io::stderr().is_terminal() {
            ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden())
        } else {
            let b = ProgressBar::new(total);
            b.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} {rate} ETA {eta} {msg}")
                    .map(|s| {
                        // Whole messages a second: "97/s", not "97.4126/s".
                        s.with_key(
                            "rate",
                            |st: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                                let _ = write!(w, "{:.0}/s", st.per_sec());
                            },
                        )
                    })
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b
        };
        Progress { bar }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl crate::send::Observer for Progress {
    fn finished(&self, sent: bool) {
        self.bar.inc(1);
        if !sent {
            self.bar.set_message("(some failed)");
        }
    }
}
