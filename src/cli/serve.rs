//! `almanac serve [--listen ADDR]`: the one-click unsubscribe endpoint and the
//! archive (see `crate::serve`), until Ctrl-C or SIGTERM.

use std::io::Write;
use std::net::ToSocketAddrs;
use std::process::ExitCode;

use super::project::Project;
use super::{Cli, CmdResult, Failure, exit};
use crate::mail;
use crate::serve::{self, Settings};
use crate::state::State;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address and port to listen on (port 0 picks a free one). Put a TLS
    /// reverse proxy in front of it.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,
}

fn fail(m: String) -> Failure {
    Failure::Message(m, exit::INVALID)
}

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let project = Project::load(cli)?;
    let config = &project.config;
    let addrs: Vec<_> = args
        .listen
        .to_socket_addrs()
        .map_err(|e| fail(format!("cannot listen on `{}`: {e}", args.listen)))?
        .collect();
    if config.unsubscribe_secret.is_none() {
        // The development secret is public: with it anybody could make a
        // token for any address. Fine on loopback, never beyond.
        if !addrs.iter().all(|a| a.ip().is_loopback()) {
            return Err(fail(format!(
                "ALMANAC_UNSUBSCRIBE_SECRET is not set, so unsubscribe tokens could be forged; \
                 set it (the same value the sends use) before listening on `{}`",
                args.listen
            )));
        }
        eprintln!(
            "warning: ALMANAC_UNSUBSCRIBE_SECRET is not set; only tokens made with the development secret verify"
        );
    }
    let state = State::open(&config.paths.state).map_err(fail)?;
    state.check().map_err(fail)?;
    let site_dir = super::archive::site_dir(&project);
    if !site_dir.join("index.html").is_file() {
        eprintln!(
            "note: there is no archive in {} yet; run `almanac archive` to create it",
            site_dir.display()
        );
    }
    let router = serve::router(
        Settings {
            key: mail::token_key(config),
            site_dir,
            archive_url: config.links.archive.to_string(),
            unsubscribe_url: config.links.unsubscribe.to_string(),
            list_name: config.newsletter.name.to_string(),
        },
        state,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addrs.as_slice())
            .await
            .map_err(|e| fail(format!("cannot listen on `{}`: {e}", args.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| fail(format!("cannot listen on `{}`: {e}", args.listen)))?;
        println!("serving on http://{addr}/");
        let _ = std::io::stdout().flush();
        let shutdown = async {
            serve::shutdown_signal().await;
            eprintln!("shutting down: finishing the requests in flight");
        };
        serve::serve(listener, router, shutdown)
            .await
            .map_err(|e| fail(format!("the server stopped: {e}")))
    })?;
    Ok(ExitCode::from(exit::OK))
}
