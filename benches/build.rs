//! Build speed: `cargo bench --bench build`.
//!
//! Builds the Sunday sample N times in-process and prints the median time
//! per issue and the part of it spent inlining CSS; then runs the whole
//! `almanac build` process M times and prints its median wall time. Figures,
//! not assertions: the target (a whole process under 30 ms) is judged by
//! reading them, never by a timed test.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use almanac::app::Project;
use almanac::config::Env;

const N: usize = 200;
const M: usize = 30;
const ISSUE: &str = "2026-11-29-sunday";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = root.join("newsletter.toml");
    let mut total = Vec::new();
    let mut inline = Vec::new();
    let mut templates = Vec::new();
    for _ in 0..N {
        let start = Instant::now();
        let project = Project::load(&config, &Env::default()).expect("the sample loads");
        let issue = project.issue(Some(ISSUE)).expect("the issue loads");
        let built = project.build(issue).expect("the issue builds");
        let files = project.files(&built);
        total.push(start.elapsed());
        assert_eq!(files.len(), 4);
        inline.push(built.rendered.timings.css_inline);
        templates.push(built.rendered.timings.templates);
    }
    let (t, i) = (median(total), median(inline));
    println!("in-process build of {ISSUE}, median of {N}:");
    println!(
        "  whole build (load, parse, render, inline, text, message) {}",
        ms(t)
    );
    println!(
        "  of which CSS inlining (2 documents)                      {} ({:.0}%)",
        ms(i),
        100.0 * i.as_secs_f64() / t.as_secs_f64()
    );
    println!(
        "  of which maud templates (2 documents)                    {}",
        ms(median(templates))
    );

    let mut wall = Vec::new();
    for _ in 0..M {
        let start = Instant::now();
        let status = Command::new(env!("CARGO_BIN_EXE_almanac"))
            .args([
                "--config",
                config.to_str().expect("utf-8 path"),
                "build",
                ISSUE,
                "--quiet",
            ])
            .current_dir(root)
            .status()
            .expect("run almanac");
        wall.push(start.elapsed());
        assert!(status.success());
    }
    println!(
        "whole `almanac build {ISSUE}` process, median of {M}: {} (target: under 30 ms)",
        ms(median(wall))
    );
}
