//! Building an issue into `out/<issue>/`: the email HTML, the plain text,
//! the web page and a complete sample message, swapped in whole so a failed
//! build never leaves output that looks complete.

use std::path::PathBuf;

use super::{Built, Project, Result};

pub struct BuildReport {
    pub built: Built,
    pub dir: PathBuf,
}

pub fn build(project: &Project, arg: Option<&str>) -> Result<BuildReport> {
    let built = project.built(arg)?;
    let dir = project.config.paths.out.join(built.issue.id.as_str());
    crate::fsx::replace_dir(&dir, project.files(&built))?;
    Ok(BuildReport { built, dir })
}
