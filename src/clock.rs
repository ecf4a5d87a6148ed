//! The one place that reads the wall clock. Everything else takes a time as
//! an argument, so schedules, Message-IDs and tests are reproducible
//! (`--now` overrides it on the command line).

use chrono::{DateTime, Utc};

#[allow(clippy::disallowed_methods)]
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// `HH:MM:SS` in the machine's zone, for terminal log lines.
pub fn log_time() -> String {
    now()
        .with_timezone(&chrono::Local)
        .format("%H:%M:%S")
        .to_string()
}
