//! `almanac init [DIR]`: a new newsletter folder (see `app::init`).

use std::path::PathBuf;

use super::{Cli, CmdResult};
use crate::app::{self, exit};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  almanac init my-letter --name \"The Letter\" --from \"The Letter <letters@yourdomain.org>\"
  almanac init . --layouts          # here, with layouts/ to customise the look")]
pub struct Args {
    /// The folder to create (or an empty one to fill); default: here.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The newsletter's name; default: from the folder's name.
    #[arg(long)]
    pub name: Option<String>,
    /// The sender, `Name <address>`.
    #[arg(long)]
    pub from: Option<String>,
    /// The schedule's IANA time zone; default: this machine's.
    #[arg(long)]
    pub timezone: Option<String>,
    /// Also write layouts/ (the stylesheet and the editions) to customise.
    #[arg(long)]
    pub layouts: bool,
}

pub fn run(_cli: &Cli, args: &Args) -> CmdResult {
    let created = app::init::init(
        &app::init::Init {
            dir: args.dir.clone(),
            name: args.name.clone(),
            from: args.from.clone(),
            timezone: args.timezone.clone(),
            layouts: args.layouts,
        },
        crate::clock::now(),
    )?;
    for f in &created.files {
        println!("created {}", f.display());
    }
    let cd = if created.dir == std::path::Path::new(".") {
        String::new()
    } else {
        format!("cd {} && ", created.dir.display())
    };
    let id = &created.issue;
    println!("\nBefore the first real send, in newsletter.toml:");
    for t in &created.todo {
        println!("  - {t}");
    }
    println!(
        "\nNext:
  {cd}almanac preview                        # write issues/{id}/ and watch it at http://127.0.0.1:4747
  almanac subscribers add you@yourdomain.org   # a first reader (or `subscribers import FILE`)
  almanac check {id}          # what is left to write
  almanac send {id} --test you@yourdomain.org  # a proof
  almanac schedule                             # when `send --due` will send it"
    );
    Ok(exit::OK)
}
