//! The subscriber list: checked, listed and edited without breaking its
//! format (the CSV file named by `paths.subscribers`).

use std::path::PathBuf;

use super::{Error, Project, Result};
use crate::domain::{EditionId, Email, Line};
use crate::subscribers::{self, List, Wants};

fn path(project: &Project) -> Result<PathBuf> {
    project
        .config
        .paths
        .subscribers
        .clone()
        .ok_or(Error::NoSubscriberList)
}

pub fn load(project: &Project) -> Result<List> {
    Ok(subscribers::load(&path(project)?, &project.editions())?)
}

/// Per edition, how many valid rows want it.
pub fn per_edition(project: &Project, list: &List) -> Vec<(EditionId, usize)> {
    project
        .editions()
        .into_iter()
        .map(|ed| {
            let n = list
                .subscribers
                .iter()
                .filter(|s| s.wants.includes(&ed))
                .count();
            (ed, n)
        })
        .collect()
}

/// One listed subscriber: address, name, editions.
pub struct Row {
    pub email: Email,
    pub name: String,
    pub editions: String,
}

pub fn list(project: &Project, edition: Option<&EditionId>) -> Result<Vec<Row>> {
    let list = load(project)?;
    Ok(list
        .subscribers
        .into_iter()
        .filter(|s| edition.is_none_or(|e| s.wants.includes(e)))
        .map(|s| Row {
            editions: match &s.wants {
                Wants::All => "both".to_string(),
                Wants::Some(v) => v.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(";"),
            },
            name: s.name.map(|n| n.to_string()).unwrap_or_default(),
            email: s.email,
        })
        .collect())
}

pub fn add(
    project: &Project,
    email: &Email,
    name: Option<&str>,
    editions: &str,
    today: &str,
) -> Result<()> {
    let path = path(project)?;
    if let Some(n) = name {
        Line::new(n, "the name", 100).map_err(Error::Invalid)?;
    }
    subscribers::parse_wants(editions, &project.editions()).map_err(Error::Invalid)?;
    Ok(subscribers::add(&path, email, name, editions, today)?)
}

pub fn remove(project: &Project, email: &Email) -> Result<()> {
    if subscribers::remove(&path(project)?, email)? {
        Ok(())
    } else {
        Err(subscribers::Error::NotListed(email.clone()).into())
    }
}
