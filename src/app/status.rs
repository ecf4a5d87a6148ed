//! Where issues stand: each one's stage and delivery counts, or one
//! issue's in detail with its failures, last run, bounces and complaints.

use chrono::{DateTime, Utc};

use super::lifecycle::{self, Context, IssueState};
use super::{Project, Result};
use crate::state::{FailedDelivery, RunRecord};

#[derive(Debug, serde::Serialize)]
pub struct Detail {
    #[serde(flatten)]
    pub state: IssueState,
    pub failures: Vec<FailedDelivery>,
    pub last_run: Option<RunRecord>,
    /// What came back about this issue, by kind (hard, soft, policy,
    /// complaint), as `almanac bounces` recorded it.
    pub returned: std::collections::BTreeMap<String, u64>,
    /// Messages delivered through each relay, by name.
    pub relays: Vec<(String, u64)>,
}

/// The newest `limit` issues.
pub fn list(project: &Project, now: DateTime<Utc>, limit: usize) -> Result<Vec<IssueState>> {
    lifecycle::all(project, now, limit)
}

/// One issue, named by id or folder; an unknown one is an error that lists
/// the known issues.
pub fn one(project: &Project, arg: &str, now: DateTime<Utc>) -> Result<Detail> {
    let id = project.resolve(Some(arg))?;
    let cx = Context::load(project, now)?;
    let state = cx.built(project, &id)?;
    Ok(Detail {
        state,
        failures: cx.state().failures(id.as_str())?,
        last_run: cx.state().last_run(id.as_str())?,
        returned: cx.state().bounce_counts(id.as_str())?,
        relays: cx.state().sent_by_relay(id.as_str())?,
    })
}
