//! File events → a generation number. The page polls the number and reloads
//! when it changes; the server drops its rendered copies when it changes.
//! Nothing is rendered here: rendering happens when a page asks, so a burst
//! of saves costs one render, not one per save.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecursiveMode, Watcher};

use super::{Source, Watched};

/// Events this close together are one save: editors truncate, write and
/// rename in separate steps.
const QUIET: Duration = Duration::from_millis(100);
/// A change is announced after this at the latest, even if events keep
/// coming (a long `almanac new`, a `git checkout`).
const MAX_WAIT: Duration = Duration::from_millis(400);

/// Starts watching on a background thread that lives as long as the
/// process. The first watches are in place when this returns, so a file
/// saved just after the URL is printed is seen.
pub fn spawn(source: Arc<dyn Source>, generation: Arc<AtomicU64>) -> notify::Result<()> {
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(tx)?;
    let mut watches = Watches::default();
    watches.update(&mut watcher, &source.watched());
    std::thread::Builder::new()
        .name("preview-watch".into())
        .spawn(move || {
            while let Ok(event) = rx.recv() {
                if !watches.relevant(&event) {
                    continue;
                }
                let start = Instant::now();
                loop {
                    match rx.recv_timeout(QUIET) {
                        Ok(_) if start.elapsed() < MAX_WAIT => continue,
                        Ok(_) | Err(RecvTimeoutError::Timeout) => break,
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
                generation.fetch_add(1, Ordering::SeqCst);
                if let Ok(e) = &event
                    && let Some(p) = e.paths.first()
                {
                    eprintln!("{} changed: {}", crate::clock::log_time(), p.display());
                }
                // The change may have been to `[paths]` in newsletter.toml,
                // or may have created a watched folder.
                watches.update(&mut watcher, &source.watched());
            }
        })
        .map_err(notify::Error::io)?;
    Ok(())
}

/// What is being watched, in absolute form so event paths compare equal.
#[derive(Default)]
struct Watches {
    config: PathBuf,
    dirs: Vec<PathBuf>,
    active: Vec<PathBuf>,
}

impl Watches {
    fn update(&mut self, watcher: &mut impl Watcher, want: &Watched) {
        let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
        self.config = abs(&want.config);
        self.dirs = want.dirs.iter().map(|d| abs(d)).collect();
        let mut targets = vec![(
            self.config
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
            RecursiveMode::NonRecursive,
        )];
        targets.extend(
            self.dirs
                .iter()
                .map(|d| (d.clone(), RecursiveMode::Recursive)),
        );
        for old in std::mem::take(&mut self.active) {
            if targets.iter().any(|(t, _)| *t == old) {
                self.active.push(old);
            } else {
                let _ = watcher.unwatch(&old);
            }
        }
        for (path, mode) in targets {
            // A folder that does not exist yet (layouts are optional) is
            // retried after the next change: its creation is seen by the
            // watch on the configuration's folder.
            if !self.active.contains(&path) && watcher.watch(&path, mode).is_ok() {
                self.active.push(path);
            }
        }
    }

    fn relevant(&self, event: &notify::Result<Event>) -> bool {
        // An error (such as an overflowed event queue) may hide a change.
        let Ok(event) = event else { return true };
        if event.need_rescan() {
            return true;
        }
        // Reading a file is not changing it; without this the preview's own
        // renders would trigger reloads forever.
        if let EventKind::Access(kind) = event.kind
            && kind != AccessKind::Close(AccessMode::Write)
        {
            return false;
        }
        event.paths.iter().any(|p| {
            !is_scratch(p) && (*p == self.config || self.dirs.iter().any(|d| p.starts_with(d)))
        })
    }
}

/// Editor swap and backup files, which change while typing, not on save.
fn is_scratch(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name.starts_with('.')
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name == "4913"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watches() -> Watches {
        Watches {
            config: PathBuf::from("/n/newsletter.toml"),
            dirs: vec![PathBuf::from("/n/issues"), PathBuf::from("/n/layouts")],
            active: Vec::new(),
        }
    }

    fn event(kind: EventKind, path: &str) -> notify::Result<Event> {
        Ok(Event::new(kind).add_path(PathBuf::from(path)))
    }

    #[test]
    fn saves_under_the_sources_count() {
        let w = watches();
        let modify = EventKind::Modify(notify::event::ModifyKind::Any);
        assert!(w.relevant(&event(modify, "/n/issues/x/issue.toml")));
        assert!(w.relevant(&event(modify, "/n/layouts/email.css")));
        assert!(w.relevant(&event(modify, "/n/newsletter.toml")));
        assert!(w.relevant(&event(
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            "/n/issues/x/guide.md"
        )));
    }

    #[test]
    fn reads_outputs_and_swap_files_do_not() {
        let w = watches();
        let modify = EventKind::Modify(notify::event::ModifyKind::Any);
        let open = EventKind::Access(AccessKind::Open(AccessMode::Any));
        assert!(!w.relevant(&event(open, "/n/issues/x/issue.toml")));
        assert!(!w.relevant(&event(modify, "/n/out/x/email.html")));
        assert!(!w.relevant(&event(modify, "/n/state/journal.sqlite")));
        assert!(!w.relevant(&event(modify, "/n/issues/x/.issue.toml.swp")));
        assert!(!w.relevant(&event(modify, "/n/issues/x/issue.toml~")));
    }
}
