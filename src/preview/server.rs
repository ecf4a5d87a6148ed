//! The HTTP side: loopback only, a fixed set of routes keyed by validated
//! issue ids (so no request can name a file), rendered copies cached per
//! generation, and a clean stop on Ctrl-C.

use std::collections::HashMap;
use std::io::Write;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::{Snapshot, Source, frames, page, watch};
use crate::app::Error;
use crate::app::lifecycle::IssueState;
use crate::domain::IssueId;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Port on 127.0.0.1; 0 lets the system pick a free one.
    pub port: u16,
    /// An issue whose page URL is printed (and opened) besides the index.
    pub issue: Option<IssueId>,
    /// Open the page in the desktop's browser with `xdg-open`.
    pub open: bool,
}

/// Serves until Ctrl-C (or SIGTERM). Prints `preview: URL` on stdout once
/// listening. Errors are for the caller to print.
pub fn run(options: Options, source: impl Source) -> Result<(), Error> {
    let source: Arc<dyn Source> = Arc::new(source);
    let generation = Arc::new(AtomicU64::new(0));
    if let Err(e) = watch::spawn(source.clone(), generation.clone()) {
        eprintln!("warning: cannot watch the files ({e}); reload the page by hand after saving");
    }
    let runtime = crate::rt::runtime().map_err(Error::Runtime)?;
    runtime.block_on(serve(options, source, generation))
}

async fn serve(
    options: Options,
    source: Arc<dyn Source>,
    generation: Arc<AtomicU64>,
) -> Result<(), Error> {
    // Handlers first: a Ctrl-C right after the URL is printed must already
    // mean a clean stop, not the default kill.
    let stop = crate::rt::stop_signal().map_err(Error::Runtime)?;
    let listen = |source| Error::Listen {
        addr: format!("127.0.0.1:{}", options.port),
        hint: " (pass --port 0 for any free port)",
        source,
    };
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, options.port))
        .await
        .map_err(listen)?;
    let port = listener.local_addr().map_err(listen)?.port();
    let base = format!("http://127.0.0.1:{port}/");
    let page = options.issue.as_ref().map(|id| format!("{base}issue/{id}"));
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "preview: {base}");
        if let Some(p) = &page {
            let _ = writeln!(out, "issue: {p}");
        }
        let _ = out.flush();
    }
    if options.open {
        open_browser(page.as_deref().unwrap_or(&base));
    }
    let app = App(Arc::new(Inner {
        source,
        generation,
        instance: std::process::id(),
        hosts: [format!("127.0.0.1:{port}"), format!("localhost:{port}")],
        cache: Mutex::default(),
    }));
    axum::serve(listener, router(app))
        .with_graceful_shutdown(stop)
        .await
        .map_err(Error::Server)?;
    eprintln!("preview: stopped");
    Ok(())
}

fn router(app: App) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/version", get(version))
        .route("/issue/{id}", get(issue_page))
        // A trailing slash is what a typed or pasted URL often has.
        .route("/issue/{id}/", get(issue_page))
        .route("/issue/{id}/{file}", get(issue_file))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

#[derive(Clone)]
struct App(Arc<Inner>);

struct Inner {
    source: Arc<dyn Source>,
    generation: Arc<AtomicU64>,
    /// Part of the version, so a page left open across a restart of the
    /// server reloads even if the new generation number matches.
    instance: u32,
    /// The Host headers this server answers to.
    hosts: [String; 2],
    cache: Mutex<Cache>,
}

/// Rendered results of one generation. A page and its three frames ask for
/// the same issue at once; this renders it once.
#[derive(Default)]
struct Cache {
    generation: u64,
    issues: Option<Rendered<Vec<IssueId>>>,
    overview: Option<Rendered<Vec<IssueState>>>,
    snapshots: HashMap<IssueId, Rendered<Snapshot>>,
}

/// A result shared by every request of one generation.
type Rendered<T> = Arc<Result<T, Error>>;

impl Inner {
    fn version_of(&self, generation: u64) -> String {
        format!("{}-{generation}", self.instance)
    }

    /// Runs `f` on the cache of the current generation, and returns the
    /// version to embed in a page. The generation is read before any file
    /// is, so a save during a render always leads to one more reload.
    fn cached<T>(&self, f: impl FnOnce(&mut Cache, &dyn Source) -> T) -> (String, T) {
        let generation = self.generation.load(Ordering::SeqCst);
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.generation != generation {
            *cache = Cache {
                generation,
                ..Cache::default()
            };
        }
        let value = f(&mut cache, &*self.source);
        (self.version_of(generation), value)
    }

    fn overview(cache: &mut Cache, source: &dyn Source) -> Rendered<Vec<IssueState>> {
        cache
            .overview
            .get_or_insert_with(|| Arc::new(source.overview()))
            .clone()
    }

    fn issues(cache: &mut Cache, source: &dyn Source) -> Rendered<Vec<IssueId>> {
        cache
            .issues
            .get_or_insert_with(|| Arc::new(source.issues()))
            .clone()
    }

    /// The issue's snapshot, or `None` when there is no such issue.
    fn snapshot(&self, id: &IssueId) -> (String, Option<Rendered<Snapshot>>) {
        self.cached(|cache, source| {
            if let Ok(ids) = &*Self::issues(cache, source)
                && !ids.contains(id)
            {
                return None;
            }
            let entry = cache.snapshots.entry(id.clone()).or_insert_with(|| {
                let r = source.render(id);
                log_render(id, &r);
                Arc::new(r)
            });
            Some(entry.clone())
        })
    }
}

/// One line per render on the terminal, like zola and mdBook: the time, the
/// issue, and its warnings or the first lines of its errors.
fn log_render(id: &IssueId, r: &Result<Snapshot, Error>) {
    let now = crate::clock::log_time();
    match r {
        Ok(s) if s.warnings.warnings() > 0 => eprintln!(
            "{now} rebuilt {id} ({} warning{})",
            s.warnings.warnings(),
            if s.warnings.warnings() == 1 { "" } else { "s" }
        ),
        Ok(_) => eprintln!("{now} rebuilt {id}"),
        Err(e) => {
            let text = super::live::text(e);
            let mut lines = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("hint:"));
            eprintln!("{now} {id} does not build:");
            for l in lines.by_ref().take(5) {
                eprintln!("  {l}");
            }
            let more = lines.count();
            if more > 0 {
                eprintln!("  ... and {more} more (the page shows them all)");
            }
        }
    }
}

/// Runs a render off the async workers.
async fn blocking<T: Send + 'static>(
    app: &App,
    f: impl FnOnce(&Inner) -> T + Send + 'static,
) -> Result<T, Response> {
    let inner = app.0.clone();
    tokio::task::spawn_blocking(move || f(&inner))
        .await
        .map_err(|e| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the render failed: {e}"),
            )
                .into_response()
        })
}

/// Turns away requests for another host name (DNS rebinding: a web page
/// pointing its own name at 127.0.0.1 to read the preview), and marks every
/// answer uncacheable so a reload always shows the latest render.
async fn guard(State(app): State<App>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !app.0.hosts.iter().any(|h| h == host) {
        return (StatusCode::FORBIDDEN, "unknown host\n").into_response();
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

async fn index(State(app): State<App>) -> Response {
    match blocking(&app, |a| a.cached(Inner::overview)).await {
        Ok((version, issues)) => Html(page::index(&version, &issues).into_string()).into_response(),
        Err(r) => r,
    }
}

async fn version(State(app): State<App>) -> String {
    app.0.version_of(app.0.generation.load(Ordering::SeqCst))
}

async fn issue_page(State(app): State<App>, id: Result<Path<String>, PathRejection>) -> Response {
    let Some(id) = parse_id(id.ok()) else {
        return not_found(State(app)).await;
    };
    let result = blocking(&app, move |a| {
        let (version, snapshot) = a.snapshot(&id);
        snapshot.map(|s| page::issue(&version, &id, &s).into_string())
    })
    .await;
    match result {
        Ok(Some(html)) => Html(html).into_response(),
        Ok(None) => not_found(State(app)).await,
        Err(r) => r,
    }
}

/// The built files, and the dark-mode copy. The email documents are served
/// with scripts disabled, as mail clients show them.
async fn issue_file(
    State(app): State<App>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    // A segment that does not decode (bad %-escapes) is just another unknown path.
    let Ok(Path((id, file))) = path else {
        return not_found(State(app)).await;
    };
    let (Some(id), Some(kind)) = (parse_id(Some(Path(id))), FileKind::parse(&file)) else {
        return not_found(State(app)).await;
    };
    let snapshot = match blocking(&app, move |a| a.snapshot(&id).1).await {
        Ok(Some(s)) => s,
        Ok(None) => return not_found(State(app)).await,
        Err(r) => return r,
    };
    let s = match &*snapshot {
        Ok(s) => s,
        Err(problems) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                super::live::text(problems),
            )
                .into_response();
        }
    };
    let (body, content_type) = match kind {
        FileKind::Email => (s.email_html.clone().into_bytes(), HTML),
        FileKind::Dark => (frames::force_dark(&s.email_html).into_bytes(), HTML),
        FileKind::Web => (s.web_html.clone().into_bytes(), HTML),
        FileKind::Text => (s.email_txt.clone().into_bytes(), TEXT),
        // Shown as text: the point is to read it, not to download it.
        FileKind::Message => (s.message_eml.clone(), TEXT),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, "script-src 'none'"),
        ],
        body,
    )
        .into_response()
}

const HTML: &str = "text/html; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

enum FileKind {
    Email,
    Dark,
    Web,
    Text,
    Message,
}

impl FileKind {
    fn parse(name: &str) -> Option<FileKind> {
        Some(match name {
            "email.html" => FileKind::Email,
            "dark.html" => FileKind::Dark,
            "web.html" => FileKind::Web,
            "email.txt" => FileKind::Text,
            "message.eml" => FileKind::Message,
            _ => return None,
        })
    }
}

/// Only a valid issue id (lowercase letters, digits, inner hyphens) gets
/// past here, so `..`, slashes and their %-encodings never reach a path.
fn parse_id(segment: Option<Path<String>>) -> Option<IssueId> {
    segment?.0.parse().ok()
}

async fn not_found(State(app): State<App>) -> Response {
    let version = app.0.version_of(app.0.generation.load(Ordering::SeqCst));
    (
        StatusCode::NOT_FOUND,
        Html(page::not_found(&version).into_string()),
    )
        .into_response()
}

/// Best effort: a missing browser is a warning, the URL is printed anyway.
fn open_browser(url: &str) {
    let url = url.to_owned();
    let child = std::process::Command::new("xdg-open")
        .arg(&url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    match child {
        Ok(mut child) => {
            std::thread::spawn(move || match child.wait() {
                Ok(s) if s.success() => {}
                Ok(s) => eprintln!("warning: xdg-open {url} failed ({s}); open it yourself"),
                Err(e) => eprintln!("warning: xdg-open {url} failed ({e}); open it yourself"),
            });
        }
        Err(e) => eprintln!("warning: cannot run xdg-open ({e}); open {url} yourself"),
    }
}
