//! `almanac serve`: a small HTTP server, meant to sit behind a TLS reverse
//! proxy, for what the emails link to.
//!
//! * `POST /unsubscribe?t=TOKEN` with `List-Unsubscribe=One-Click` (RFC 8058):
//!   records the suppression and answers 200 with a short text, never a
//!   redirect; with `confirm=yes` (the confirm page's form) it answers with a
//!   page that offers to undo. Idempotent. A bad token is a 400 and changes
//!   nothing; so is a body that asks for neither.
//! * `GET /unsubscribe?t=TOKEN`: a page with the address and a confirm
//!   button. A GET never unsubscribes: mail scanners and link previews follow
//!   links.
//! * `POST /resubscribe?t=TOKEN`: lifts the suppression.
//! * `GET /healthz`: `ok` when the state database answers.
//! * everything else: the archive written by `almanac archive`, served from
//!   out/site/ under the path of `links.archive` (e.g. `/issues/`).
//!
//! The unsubscribe paths also follow `links.unsubscribe`, if its path is
//! another one. The state database is shared with sends (WAL, busy
//! timeout): one connection behind a mutex, used from blocking threads.

mod form;
mod pages;
mod site;

use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State as AxState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::Markup;

use crate::app::{self, Project, suppress};
use crate::domain::Email;
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
    /// The newsletter's name, for the pages.
    pub list_name: String,
}

impl Settings {
    pub fn of(project: &Project) -> Settings {
        let config = &project.config;
        Settings {
            key: crate::mail::token_key(config),
            site_dir: app::archive::site_dir(project),
            archive_url: config.links.archive.to_string(),
            unsubscribe_url: config.links.unsubscribe.to_string(),
            list_name: config.newsletter.name.to_string(),
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
    let state = State::open(&project.config.paths.state)?;
    state.check()?;
    let settings = Settings::of(project);
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
    let app = Arc::new(App {
        key: settings.key,
        db: Mutex::new(state),
        site_dir: settings.site_dir,
        archive_prefix,
        unsubscribe_name,
        list_name: settings.list_name,
    });
    let mut r = Router::new().route("/healthz", get(healthz));
    for p in &unsub {
        r = r.route(p, get(unsubscribe_page).post(unsubscribe_post));
    }
    for p in &resub {
        r = r.route(p, post(resubscribe_post));
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
    axum::serve(listener, router)
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
    /// The address of a genuine `t=` token in the query.
    fn verify(&self, uri: &Uri) -> Option<(Email, String)> {
        let query = uri.query()?;
        let token = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "t")
            .map(|(_, v)| v.into_owned())?;
        let email = self.key.verify(&token)?;
        Some((email, token))
    }

    fn actions(&self, token: &str) -> (String, String) {
        let t: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
        let name = if self.unsubscribe_name.is_empty() {
            "./"
        } else {
            self.unsubscribe_name.as_str()
        };
        (format!("{name}?t={t}"), format!("resubscribe?t={t}"))
    }
}

/// Runs `f` on the state database on a blocking thread.
async fn with_db<T, F>(app: &Arc<App>, f: F) -> app::Result<T>
where
    T: Send + 'static,
    F: FnOnce(&State) -> app::Result<T> + Send + 'static,
{
    let app = app.clone();
    tokio::task::spawn_blocking(move || {
        let state = app.db.lock().unwrap_or_else(|e| e.into_inner());
        f(&state)
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
    match with_db(&app, |s| Ok(s.check()?)).await {
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

async fn unsubscribe_page(AxState(app): AxState<Arc<App>>, uri: Uri) -> Response {
    let Some((email, token)) = app.verify(&uri) else {
        return page(StatusCode::BAD_REQUEST, pages::invalid(&app.list_name));
    };
    let (unsubscribe, resubscribe) = app.actions(&token);
    let actions = pages::Actions {
        unsubscribe: &unsubscribe,
        resubscribe: &resubscribe,
    };
    let e = email.clone();
    // Reading only: whatever happens here, a GET changes nothing.
    match with_db(&app, move |s| suppress::reason(s, &e)).await {
        Ok(Some(reason)) => page(
            StatusCode::OK,
            pages::already(&app.list_name, &email, &reason, &actions),
        ),
        Ok(None) => page(
            StatusCode::OK,
            pages::confirm(&app.list_name, &email, &actions),
        ),
        Err(err) => {
            log(&format!(
                "cannot read the suppression of {email}: {}",
                chain(&err)
            ));
            page(
                StatusCode::OK,
                pages::confirm(&app.list_name, &email, &actions),
            )
        }
    }
}

async fn unsubscribe_post(
    AxState(app): AxState<Arc<App>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let intent = form::intent(content_type, &body);
    let verified = app.verify(&uri);
    let (email, token) = match (intent, verified) {
        (Intent::Unknown, _) => {
            return text(
                StatusCode::BAD_REQUEST,
                "expected List-Unsubscribe=One-Click (RFC 8058) or the confirm form; nothing was changed\n"
                    .into(),
            );
        }
        (Intent::OneClick, None) => {
            return text(
                StatusCode::BAD_REQUEST,
                "this unsubscribe link is not valid; nothing was changed\n".into(),
            );
        }
        (Intent::Confirm, None) => {
            return page(StatusCode::BAD_REQUEST, pages::invalid(&app.list_name));
        }
        (_, Some(v)) => v,
    };
    let detail = if intent == Intent::OneClick {
        "one-click"
    } else {
        "confirm page"
    };
    let e = email.clone();
    let now = crate::clock::now().to_rfc3339();
    let result = with_db(&app, move |s| suppress::unsubscribe(s, &e, detail, &now)).await;
    match result {
        Ok(new) => {
            if new {
                log(&format!("unsubscribed {email} ({detail})"));
            }
        }
        Err(err) => {
            log(&format!(
                "cannot record the unsubscribe of {email}: {}",
                chain(&err)
            ));
            return match intent {
                Intent::OneClick => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the unsubscribe could not be recorded; please try again\n".into(),
                ),
                _ => page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    pages::unavailable(&app.list_name),
                ),
            };
        }
    }
    if intent == Intent::OneClick {
        return text(
            StatusCode::OK,
            format!("{email} is unsubscribed from {}.\n", app.list_name),
        );
    }
    let (unsubscribe, resubscribe) = app.actions(&token);
    page(
        StatusCode::OK,
        pages::unsubscribed(
            &app.list_name,
            &email,
            &pages::Actions {
                unsubscribe: &unsubscribe,
                resubscribe: &resubscribe,
            },
        ),
    )
}

async fn resubscribe_post(AxState(app): AxState<Arc<App>>, uri: Uri) -> Response {
    let Some((email, token)) = app.verify(&uri) else {
        return page(StatusCode::BAD_REQUEST, pages::invalid(&app.list_name));
    };
    let e = email.clone();
    match with_db(&app, move |s| suppress::resubscribe(s, &e)).await {
        Ok(had) => {
            if had {
                log(&format!("resubscribed {email}"));
            }
        }
        Err(err) => {
            log(&format!(
                "cannot lift the suppression of {email}: {}",
                chain(&err)
            ));
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                pages::unavailable(&app.list_name),
            );
        }
    }
    let (unsubscribe, resubscribe) = app.actions(&token);
    page(
        StatusCode::OK,
        pages::resubscribed(
            &app.list_name,
            &email,
            &pages::Actions {
                unsubscribe: &unsubscribe,
                resubscribe: &resubscribe,
            },
        ),
    )
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
