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

/// Why a password command gave no password. Never carries its output.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("could not run the password command `{command}`")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the password command `{command}` failed ({status})")]
    Failed {
        command: String,
        status: std::process::ExitStatus,
    },
    #[error("the password command `{command}` printed something that is not UTF-8")]
    NotUtf8 { command: String },
    #[error("the password command `{command}` printed nothing")]
    Empty { command: String },
}

/// Runs `command` through `sh -c` and takes its first line of output as the
/// secret. The error never contains the output.
pub fn from_command(command: &str) -> Result<Secret, CommandError> {
    let command_owned = || command.to_owned();
    let out = Command::new("sh")
        .arg("-c")
        .arg(command)
        .output()
        .map_err(|source| CommandError::Spawn {
            command: command_owned(),
            source,
        })?;
    if !out.status.success() {
        return Err(CommandError::Failed {
            command: command_owned(),
            status: out.status,
        });
    }
    let text = String::from_utf8(out.stdout).map_err(|_| CommandError::NotUtf8 {
        command: command_owned(),
    })?;
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if line.is_empty() {
        return Err(CommandError::Empty {
            command: command_owned(),
        });
    }
    Ok(Secret::new(line))
}

/// Where the SMTP password comes from. A command is only run when a
/// connection needs it, so `build`, `check` and every preview render never
/// run it.
#[derive(Debug, Clone, Default)]
pub enum Password {
    #[default]
    None,
    Given(Secret),
    Command(String),
}

impl Password {
    pub fn resolve(&self) -> Result<Option<Secret>, CommandError> {
        match self {
            Password::None => Ok(None),
            Password::Given(s) => Ok(Some(s.clone())),
            Password::Command(c) => from_command(c).map(Some),
        }
    }
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
