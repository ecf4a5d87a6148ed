//! Secrets (SMTP password, unsubscribe HMAC key) never print: their `Debug`
//! and `Display` are redacted, and the value is only reachable through
//! `expose()`, which makes every use easy to find.

use std::fmt;
use std::process::Command;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Runs `command` through `sh -c` and takes its first line of output as the
/// secret. The error never contains the output.
pub fn from_command(command: &str) -> Result<Secret, String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(command)
        .output()
        .map_err(|e| format!("could not run the password command: {e}"))?;
    if !out.status.success() {
        return Err(format!("the password command failed ({})", out.status));
    }
    let text = String::from_utf8(out.stdout)
        .map_err(|_| "the password command printed something that is not UTF-8".to_string())?;
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if line.is_empty() {
        return Err("the password command printed nothing".into());
    }
    Ok(Secret::new(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?} {s}").contains("hunter2"));
    }

    #[test]
    fn command_output() {
        assert_eq!(from_command("echo hunter2").unwrap().expose(), "hunter2");
        assert!(from_command("exit 3").is_err());
    }
}
