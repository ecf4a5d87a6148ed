//! What the journal says about an issue: delivery counts and failures.

use super::{Project, Result};
use crate::state::{Counts, FailedDelivery, State};

#[derive(Debug, serde::Serialize)]
pub struct IssueStatus {
    pub issue: String,
    pub counts: Counts,
    pub failures: Vec<FailedDelivery>,
}

pub fn status(project: &Project, issue: &str) -> Result<IssueStatus> {
    let state = State::open(&project.config.paths.state)?;
    Ok(IssueStatus {
        issue: issue.to_owned(),
        counts: state.counts(issue)?,
        failures: state.failures(issue)?,
    })
}
