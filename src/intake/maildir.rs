//! A Maildir: messages waiting in `new/` are read in name order; a handled
//! one is renamed into `cur/` with the seen flag (`:2,S`), as a mail client
//! would; one not understood stays in `new/`.

use std::path::{Path, PathBuf};

use super::{At, Item, Mailbox, read_file};

pub struct Maildir {
    cur: PathBuf,
    waiting: std::vec::IntoIter<PathBuf>,
}

impl Maildir {
    pub fn open(dir: &Path) -> Result<Maildir, String> {
        let new = dir.join("new");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&new)
            .map_err(|e| format!("cannot read {}: {e}", new.display()))?
            .filter_map(|e| e.ok())
            // Dot files are not messages (Maildir++ and editors leave them).
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| e.path())
            .collect();
        files.sort();
        Ok(Maildir {
            cur: dir.join("cur"),
            waiting: files.into_iter(),
        })
    }
}

impl Mailbox for Maildir {
    fn next(&mut self) -> Result<Option<Item>, String> {
        Ok(self.waiting.next().map(|p| Item {
            label: format!(
                "new/{}",
                p.file_name().unwrap_or_default().to_string_lossy()
            ),
            raw: read_file(&p),
            at: At::File(p),
        }))
    }

    fn handled(&mut self, item: &Item) -> Result<(), String> {
        let At::File(path) = &item.at else {
            return Ok(());
        };
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        // `unique:2,FLAGS`: keep flags already there, add S.
        let target = match name.split_once(":2,") {
            Some((base, flags)) if flags.contains('S') => format!("{base}:2,{flags}"),
            Some((base, flags)) => {
                let mut f: Vec<char> = flags.chars().chain(['S']).collect();
                f.sort_unstable();
                format!("{base}:2,{}", f.into_iter().collect::<String>())
            }
            None => format!("{name}:2,S"),
        };
        std::fs::rename(path, self.cur.join(&target))
            .map_err(|e| format!("cannot move {} to cur/: {e}", item.label))
    }

    fn close(self: Box<Self>) -> Result<(), String> {
        Ok(())
    }
}
