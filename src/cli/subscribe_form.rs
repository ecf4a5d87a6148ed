//! `almanac subscribe-form`: an HTML snippet for a website, posting to the
//! subscribe endpoint of `almanac serve`.

use maud::html;

use super::{Cli, CmdResult};
use crate::app::exit;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(cli: &Cli, _args: &Args) -> CmdResult {
    let project = super::project(cli)?;
    let form = html! {
        form.almanac-subscribe method="post" action=(project.config.subscribe_url()) {
            label for="almanac-email" { "Email address" }
            input #almanac-email type="email" name="email" required autocomplete="email";
            label for="almanac-name" { "Name (optional)" }
            input #almanac-name type="text" name="name" autocomplete="name" maxlength="100";
            fieldset {
                legend { "Editions" }
                @for e in project.layouts.editions.values() {
                    label { input type="checkbox" name="edition" value=(e.id) checked; " " (e.name) }
                }
            }
            // The honeypot: hidden from people, filled by bots.
            div style="position:absolute;left:-10000px" aria-hidden="true" {
                input type="text" name="website" tabindex="-1" autocomplete="off";
            }
            button type="submit" { "Subscribe" }
        }
    };
    println!("{}", form.into_string());
    Ok(exit::OK)
}
