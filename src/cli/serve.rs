//! `almanac serve [--listen ADDR]`: the one-click unsubscribe endpoint and the
//! archive (see `crate::serve`), until Ctrl-C or SIGTERM.

use super::{Cli, CmdResult};
use crate::app::exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address and port to listen on (port 0 picks a free one). Put a TLS
    /// reverse proxy in front of it.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,
}

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let project = super::project(cli)?;
    crate::serve::run(&project, &args.listen)?;
    Ok(exit::OK)
}
