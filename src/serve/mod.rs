//! `almanac serve`: a small HTTP server, meant to sit behind a TLS reverse
//! proxy, for what the emails link to.
//!
//! * `POST /unsubscribe?t=TOKEN` with `List-Unsubscribe=One-Click` (RFC 8058):
//!   takes the reader off the edition the token names (or off everything,
//!   for a first-release token) and answers 200 with a short text, never a
//!   redirect; with `confirm=yes` (the confirm page's form) it answers with
//!   a page that offers to undo. Idempotent. A bad token is a 400 and
//!   changes nothing; so is a body that asks for neither.
//! * `GET /unsubscribe?t=TOKEN`: a page with the address and a confirm
//!   button. A GET never changes anything: mail scanners and link previews
//!   follow links.
//! * `POST /resubscribe?t=TOKEN`: the undo.
//! * `GET /manage?t=TOKEN`: the reader's editions, as checkboxes, and a way
//!   to leave everything; `POST /manage?t=TOKEN` saves them.
//! * `GET /healthz`: `ok` when the state database answers.
//! * everything else: the archive written by `almanac archive`, served from
//!   out/site/ under the path of `links.archive` (e.g. `/issues/`).
//!
//! The paths also follow `links.unsubscribe` and `links.manage`. The state
//! database is shared with sends (WAL, busy timeout): one connection behind
//! a mutex, used from blocking threads. Every change goes through
//! `app::suppress`, as the command line's do.

mod form;
mod manage;
mod pages;
mod signup;
mod site;
mod unsubscribe;

use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;

use axum::extract::{DefaultBodyLimit, State as AxState};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::Markup;

use crate::app::{self, Project, suppress};
use crate::domain::EditionId;
use crate::mail::TokenKey;
use crate::send::chain;
use crate::state::State;
pub use form::{Intent, intent};
pub use site::{Resolved, resolve, safe_segment};

/// What the server needs from the configuration.
pub struct Settings {
    pub key: TokenKey,
    /// The folder `almanac archive` writes (out/site).
    pub site_dir: PathBuf,
    /// `links.archive`: the archive is served under its path.
    pub archive_url: String,
    /// `links.unsubscribe`: its path is routed too.
    pub unsubscribe_url: String,
    /// `links.manage` (or its default): its path is routed too.
    pub manage_url: String,
    /// The newsletter's name, for the pages.
    pub list_name: String,
    /// Every edition, with its display name, in order.
    pub editions: Vec<(EditionId, String)>,
    /// The sign-up pages (`links.subscribe` and its `confirm` sibling).
    pub subscribe_url: String,
    pub confirm_url: String,
    /// What sign-ups render and send mail with.
    pub project: Arc<Project>,
}

impl Settings {
    pub fn of(project: Arc<Project>) -> Settings {
        let config = &project.config;
        Settings {
            subscribe_url: config.subscribe_url(),
            confirm_url: config.confirm_url(),
            key: crate::mail::token_key(config),
            site_dir: app::archive::site_dir(&project),
            archive_url: config.links.archive.to_string(),
            unsubscribe_url: config.links.unsubscribe.to_string(),
            manage_url: config.manage_url(),
            list_name: config.newsletter.name.to_string(),
            editions: project
                .layouts
                .editions
                .iter()
                .map(|(id, e)| (id.clone(), e.name.to_string()))
                .collect(),
            project: project.clone(),
        }
    }
}

/// Listens on `listen` and serves until Ctrl-C or SIGTERM. Prints
/// `serving on http://ADDR/` once listening.
pub fn run(project: &Project, listen: &str) -> app::Result<()> {
    let bad_listen = |source| app::Error::Listen {
        addr: listen.to_owned(),
        hint: "",
        source,
    };
    let addrs: Vec<_> = std::net::ToSocketAddrs::to_socket_addrs(listen)
        .map_err(bad_listen)?
        .collect();
    if project.config.unsubscribe_secret.is_none() {
        // The development secret is public: with it anybody could make a
        // token for any address. Fine on loopback, never beyond.
        if !addrs.iter().all(|a| a.ip().is_loopback()) {
            return Err(app::Error::PublicWithoutSecret(listen.to_owned()));
        }
        eprintln!(
            "warning: ALMANAC_UNSUBSCRIBE_SECRET is not set; only tokens made with the development secret verify"
        );
    }
    let mut state = State::open(&project.config.paths.state)?;
    state.check()?;
    app::signup::purge(project, &mut state, crate::clock::now())?;
    let settings = Settings::of(Arc::new(project.clone()));
    if !settings.site_dir.join("index.html").is_file() {
        eprintln!(
            "note: there is no archive in {} yet; run `almanac archive` to create it",
            settings.site_dir.display()
        );
    }
    let router = router(settings, state);
    let runtime = crate::rt::runtime().map_err(app::Error::Runtime)?;
    runtime.block_on(async {
        let stop = crate::rt::stop_signal().map_err(bad_listen)?;
        let listener = tokio::net::TcpListener::bind(addrs.as_slice())
            .await
            .map_err(bad_listen)?;
        let addr = listener.local_addr().map_err(bad_listen)?;
        println!("serving on http://{addr}/");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let shutdown = async {
            stop.await;
            eprintln!("shutting down: finishing the requests in flight");
        };
        serve(listener, router, shutdown)
            .await
            .map_err(app::Error::Server)
    })
}

struct App {
    key: TokenKey,
    db: Mutex<State>,
    site_dir: PathBuf,
    /// Starts and ends with `/`.
    archive_prefix: String,
    /// The last segment of the unsubscribe path, for relative form actions.
    unsubscribe_name: String,
    list_name: String,
    editions: Vec<(EditionId, String)>,
    project: Arc<Project>,
    limiter: signup::Limiter,
}

/// Bodies are a form field or two.
const MAX_BODY: usize = 16 * 1024;

/// The URL path of `url`, if it is made of safe segments.
fn url_path(url: &str) -> Option<String> {
    let path = url::Url::parse(url).ok()?.path().to_owned();
    let inner = path.trim_start_matches('/').trim_end_matches('/');
    (path.starts_with('/') && (inner.is_empty() || inner.split('/').all(safe_segment)))
        .then_some(path)
}

/// The unsubscribe and resubscribe routes, and the unsubscribe path's last
/// segment: `/unsubscribe` and `/resubscribe` always, plus the path of
/// `links.unsubscribe` and its sibling `resubscribe`.
fn route_paths(unsubscribe_url: &str) -> (BTreeSet<String>, BTreeSet<String>, String) {
    let mut unsub = BTreeSet::from(["/unsubscribe".to_owned()]);
    let mut resub = BTreeSet::from(["/resubscribe".to_owned()]);
    let mut name = "unsubscribe".to_owned();
    if let Some(p) = url_path(unsubscribe_url).filter(|p| p != "/") {
        let (dir, last) = p.rsplit_once('/').expect("starts with /");
        name = last.to_owned();
        resub.insert(format!("{dir}/resubscribe"));
        if !last.is_empty() {
            unsub.insert(format!("/{last}"));
        }
        unsub.insert(p);
    }
    unsub.retain(|p| !resub.contains(p) && p != "/healthz");
    (unsub, resub, name)
}

/// The router, with the state database it records suppressions in.
pub fn router(settings: Settings, state: State) -> Router {
    let archive_prefix = url_path(&settings.archive_url)
        .map(|p| if p.ends_with('/') { p } else { format!("{p}/") })
        .unwrap_or_else(|| "/".to_owned());
    let (unsub, resub, unsubscribe_name) = route_paths(&settings.unsubscribe_url);
    let taken = |p: &String| unsub.contains(p) || resub.contains(p) || p == "/healthz";
    let page_paths = |name: &str, url: &str| {
        let mut paths = BTreeSet::from([format!("/{name}")]);
        paths.extend(url_path(url).filter(|p| p != "/"));
        if let Some((dir, _)) = url_path(&settings.unsubscribe_url)
            .as_deref()
            .and_then(|p| p.rsplit_once('/'))
        {
            paths.insert(format!("{dir}/{name}"));
        }
        paths.retain(|p| !taken(p));
        paths
    };
    let manage = page_paths("manage", &settings.manage_url);
    let subscribe = page_paths("subscribe", &settings.subscribe_url);
    let confirm = page_paths("confirm", &settings.confirm_url);
    let app = Arc::new(App {
        key: settings.key,
        db: Mutex::new(state),
        site_dir: settings.site_dir,
        archive_prefix,
        unsubscribe_name,
        list_name: settings.list_name,
        editions: settings.editions,
        project: settings.project,
        limiter: signup::Limiter::default(),
    });
    let mut r = Router::new().route("/healthz", get(healthz));
    for p in &unsub {
        r = r.route(p, get(unsubscribe::page).post(unsubscribe::post));
    }
    for p in &resub {
        r = r.route(p, post(unsubscribe::undo));
    }
    for p in &manage {
        r = r.route(p, get(manage::page).post(manage::post));
    }
    for p in &subscribe {
        r = r.route(p, get(signup::form).post(signup::post));
    }
    for p in &confirm {
        r = r.route(p, get(signup::confirm_page).post(signup::confirm_post));
    }
    r.fallback(archive)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(app)
}

/// Serves until Ctrl-C or SIGTERM, then finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The client's address feeds the sign-up rate limit.
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    let mut set = |name: header::HeaderName, value: &'static str| {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    res
}

impl App {
    /// The `t=` token in the query, if any.
    fn token(uri: &Uri) -> Option<String> {
        let query = uri.query()?;
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "t")
            .map(|(_, v)| v.into_owned())
    }

    /// Relative form actions for a page of the unsubscribe flow.
    fn actions(&self, token: &str, manage_token: Option<&str>) -> pages::Actions {
        let t =
            |t: &str| -> String { url::form_urlencoded::byte_serialize(t.as_bytes()).collect() };
        let name = if self.unsubscribe_name.is_empty() {
            "./"
        } else {
            self.unsubscribe_name.as_str()
        };
        pages::Actions {
            unsubscribe: format!("{name}?t={}", t(token)),
            resubscribe: format!("resubscribe?t={}", t(token)),
            manage: manage_token.map(|m| format!("manage?t={}", t(m))),
        }
    }

    /// "the Midweek edition of Call Me Almanac", or the newsletter's name.
    fn scope_name(&self, scope: &suppress::Scope) -> String {
        match scope {
            suppress::Scope::All => self.list_name.clone(),
            suppress::Scope::Edition(ed) => {
                let name = self
                    .editions
                    .iter()
                    .find(|(id, _)| id == ed)
                    .map_or(ed.as_str(), |(_, n)| n.as_str());
                format!("the {name} edition of {}", self.list_name)
            }
        }
    }
}

/// Runs `f` on the state database on a blocking thread.
async fn with_db<T, F>(app: &Arc<App>, f: F) -> app::Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut State, &App) -> app::Result<T> + Send + 'static,
{
    let app = app.clone();
    tokio::task::spawn_blocking(move || {
        let mut state = app.db.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut state, &app)
    })
    .await
    .map_err(|e| app::Error::Task(e.to_string()))?
}

fn page(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        markup.into_string(),
    )
        .into_response()
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

fn log(what: &str) {
    eprintln!("{} {what}", crate::clock::now().to_rfc3339());
}

async fn healthz(AxState(app): AxState<Arc<App>>) -> Response {
    match with_db(&app, |s, _| Ok(s.check()?)).await {
        Ok(()) => text(StatusCode::OK, "ok\n".into()),
        Err(e) => {
            log(&format!("health check failed: {}", chain(&e)));
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "the state database is not available\n".into(),
            )
        }
    }
}

fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "not found\n".into())
}

fn redirect(status: StatusCode, to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(v) => (status, [(header::LOCATION, v)]).into_response(),
        Err(_) => not_found(),
    }
}

/// The archive: files of out/site under the archive's path.
async fn archive(AxState(app): AxState<Arc<App>>, method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            "method not allowed\n",
        )
            .into_response();
    }
    let path = uri.path();
    if path == "/" && app.archive_prefix != "/" {
        // Temporary: `links.archive` may move.
        return redirect(StatusCode::TEMPORARY_REDIRECT, &app.archive_prefix);
    }
    let file = match site::resolve(&app.site_dir, &app.archive_prefix, path) {
        Resolved::File(f) => f,
        Resolved::Slash(to) => return redirect(StatusCode::PERMANENT_REDIRECT, &to),
        Resolved::NotFound => return not_found(),
    };
    let content_type = site::content_type(&file);
    match tokio::task::spawn_blocking(move || site::read(&file)).await {
        Ok(Some(bytes)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            bytes,
        )
            .into_response(),
        _ => not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_follow_the_configured_unsubscribe_url() {
        let (u, r, name) = route_paths("https://almanac.example/unsubscribe");
        assert_eq!(u, BTreeSet::from(["/unsubscribe".to_owned()]));
        assert_eq!(r, BTreeSet::from(["/resubscribe".to_owned()]));
        assert_eq!(name, "unsubscribe");
        let (u, r, name) = route_paths("https://x.example/news/leave");
        assert!(u.contains("/news/leave") && u.contains("/leave") && u.contains("/unsubscribe"));
        assert!(r.contains("/news/resubscribe") && r.contains("/resubscribe"));
        assert_eq!(name, "leave");
        // Paths axum would read as parameters are ignored.
        let (u, _, name) = route_paths("https://x.example/{id}/u");
        assert_eq!(u, BTreeSet::from(["/unsubscribe".to_owned()]));
        assert_eq!(name, "unsubscribe");
    }
}
