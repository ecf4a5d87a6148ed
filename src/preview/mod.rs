//! `almanac preview`: a loopback-only web server that shows each issue as it
//! will be sent (desktop and phone frames, light or dark, plain text,
//! headers, lint), for the sample reader or any subscriber (`?as=ADDRESS`),
//! and reloads the open page whenever a source file is saved.
//!
//! The server knows HTTP, pages and file watching, not how an issue is
//! built: it asks a [`Source`], and `Live` renders through the application
//! layer's own build, so the preview can never drift from what is sent.
//!
//! * `server`: routes, the render cache, graceful shutdown.
//! * `watch`: file events → a generation counter the page polls.
//! * `page`: the HTML pages (maud), with the small reload script.
//! * `frames`: what each frame shows, derived from the built files.

mod frames;
mod live;
mod page;
mod server;
mod watch;

use std::path::PathBuf;

use crate::app::Reader;
use crate::app::subscribers::Listed;
use crate::diag::Problems;
use crate::domain::{EditionId, IssueId};
use crate::render::lint;

pub use live::Live;
pub use server::{Options, run};

/// One issue as `almanac build` would write it, plus what `check` reports.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub edition: EditionId,
    pub subject: String,
    pub preheader: String,
    /// The `From` display, for the inbox line above the frames.
    pub from: String,
    /// The built files, filled in for the reader the page asked for.
    pub email_html: String,
    pub email_txt: String,
    pub web_html: String,
    pub message_eml: Vec<u8>,
    pub lint: lint::Report,
    /// Lint and message warnings. Errors never get here: they stop the
    /// build, and the page shows them instead of the email.
    pub warnings: Problems,
}

/// Where the preview's content comes from. Every call reads the files
/// afresh, so edits to `newsletter.toml` and the layouts apply too. Errors
/// are shown as `almanac check` prints them (`file:line:col: error: ...`).
pub trait Source: Send + Sync + 'static {
    fn issues(&self) -> Result<Vec<IssueId>, crate::app::Error>;
    /// Every issue's subject, edition, date, stage and check result,
    /// newest first, for the index.
    fn overview(&self) -> Result<Vec<crate::app::lifecycle::IssueState>, crate::app::Error>;
    /// The issue's files as `reader` gets them.
    fn render(&self, id: &IssueId, reader: &Reader) -> Result<Snapshot, crate::app::Error>;
    /// The subscriber with this address (`?as=`), looked up afresh on every
    /// request: the list changes without any watched file changing.
    fn reader(&self, address: &str) -> Result<Reader, crate::app::Error>;
    /// Some active subscribers to offer in the reader picker.
    fn readers(&self) -> Result<Vec<Listed>, crate::app::Error>;
    /// What to watch, from the current configuration.
    fn watched(&self) -> Watched;
}

/// The files and folders whose changes mean "render again".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    /// The configuration file. Its folder is watched rather than the file,
    /// because editors save by writing a new file and renaming it over.
    pub config: PathBuf,
    /// Folders watched with everything under them (issues, layouts).
    pub dirs: Vec<PathBuf>,
}
