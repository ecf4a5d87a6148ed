//! Readers join: the subscribe form, its POST (double opt-in: a
//! confirmation mail, the same answer whoever asks), and the confirmation
//! link's page (a GET shows a button; only the button confirms).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;

use super::{App, chain, log, pages, with_db};
use crate::app::mailer::{self, Outgoing};
use crate::app::signup::{self, Confirm, SignUp};
use crate::domain::{EditionId, Email, Line};
use crate::mail::{Purpose, with_token};
use crate::state::signed_up_for;

/// How long the per-client window is.
const WINDOW: Duration = Duration::from_secs(600);

/// Sign-up requests per client in the last `WINDOW`.
#[derive(Default)]
pub struct Limiter {
    hits: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl Limiter {
    /// `Err(seconds to wait)` when the client is over `max`.
    fn hit(&self, client: IpAddr, max: u32) -> Result<(), u64> {
        let now = Instant::now();
        let mut hits = self.hits.lock().unwrap_or_else(PoisonError::into_inner);
        // Forget clients whose window has passed, so the map stays small.
        hits.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
        let q = hits.entry(client).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            q.pop_front();
        }
        if q.len() >= max as usize {
            let wait = WINDOW.saturating_sub(now.duration_since(q[0]));
            return Err(wait.as_secs().max(1));
        }
        q.push_back(now);
        Ok(())
    }
}

/// The client: the connection's address, or, when the config trusts the
/// one proxy in front, the last X-Forwarded-For hop: the one that proxy
/// added. (The first hop is whatever the client chose to send.)
fn client(app: &App, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    if app.project.config.signup.trust_forwarded_for
        && let Some(ip) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return ip;
    }
    peer.ip()
}

fn editions(app: &App, ticked: &[String]) -> Vec<(String, String, bool)> {
    app.editions
        .iter()
        .map(|(id, name)| {
            (
                id.to_string(),
                name.clone(),
                ticked.iter().any(|t| t == id.as_str()),
            )
        })
        .collect()
}

pub async fn form(AxState(app): AxState<Arc<App>>) -> Response {
    let all: Vec<String> = app.editions.iter().map(|(id, _)| id.to_string()).collect();
    super::page(
        StatusCode::OK,
        pages::subscribe(&app.list_name, &editions(&app, &all), "", "", None),
    )
}

/// The fields of the form; anything else refuses the request.
#[derive(Default)]
struct Fields {
    email: String,
    name: String,
    editions: Vec<String>,
    /// The honeypot: people never see it, form-filling bots fill it.
    website: String,
}

fn fields(body: &[u8]) -> Option<Fields> {
    let mut f = Fields::default();
    for (k, v) in url::form_urlencoded::parse(body) {
        match k.as_ref() {
            "email" => f.email = v.trim().to_owned(),
            "name" => f.name = v.trim().to_owned(),
            "edition" => f.editions.push(v.into_owned()),
            "website" => f.website = v.into_owned(),
            _ => return None,
        }
    }
    Some(f)
}

pub async fn post(
    AxState(app): AxState<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ip = client(&app, peer, &headers);
    if let Err(wait) = app.limiter.hit(ip, app.project.config.signup.per_client) {
        let mut r = super::page(
            StatusCode::TOO_MANY_REQUESTS,
            pages::slow_down(&app.list_name),
        );
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let Some(f) = fields(&body) else {
        return super::text(
            StatusCode::BAD_REQUEST,
            "this form has fields it should not; nothing was stored\n".into(),
        );
    };
    if !f.website.is_empty() {
        // A bot: the same answer as anyone, and nothing stored or sent.
        return super::page(StatusCode::OK, pages::check_inbox(&app.list_name));
    }
    let again = |error: &str| {
        super::page(
            StatusCode::BAD_REQUEST,
            pages::subscribe(
                &app.list_name,
                &editions(&app, &f.editions),
                &f.email,
                &f.name,
                Some(error),
            ),
        )
    };
    let Ok(email) = f.email.parse::<Email>() else {
        return again("That is not an email address we can write to. Please check it.");
    };
    let name = if f.name.is_empty() {
        None
    } else {
        match Line::new(&f.name, "the name", 100) {
            Ok(n) => Some(n),
            Err(_) => {
                return again(
                    "Please give your name on one line, at most 100 characters (or leave it empty).",
                );
            }
        }
    };
    let chosen: Vec<EditionId> = app
        .editions
        .iter()
        .filter(|(id, _)| f.editions.iter().any(|e| e == id.as_str()))
        .map(|(id, _)| id.clone())
        .collect();
    if chosen.is_empty() {
        return again("Please choose at least one edition.");
    }
    let req = SignUp {
        email: email.clone(),
        name,
        editions: chosen,
        ip: Some(ip.to_string()),
    };
    let now = crate::clock::now();
    let recorded = with_db(&app, move |s, a| signup::request(&a.project, s, &req, now)).await;
    match recorded {
        Ok(Some(out)) => {
            send(&app, &out, "sign-up mail").await;
        }
        Ok(None) => log(&format!(
            "sign-up for {email}: already mailed within the hour, not again"
        )),
        Err(e) => {
            log(&format!("cannot record a sign-up: {}", chain(&e)));
            return super::page(
                StatusCode::SERVICE_UNAVAILABLE,
                pages::unavailable(&app.list_name),
            );
        }
    }
    super::page(StatusCode::OK, pages::check_inbox(&app.list_name))
}

/// Sends one mail, logging (never showing) a failure; where it went.
async fn send(app: &App, out: &Outgoing, what: &str) -> Option<String> {
    match mailer::deliver(&app.project, out).await {
        Ok(via) => {
            log(&format!("{what} sent to {}", out.to));
            Some(via)
        }
        Err(e) => {
            log(&format!("{what} to {} was not sent: {}", out.to, chain(&e)));
            None
        }
    }
}

fn names(app: &App, stored: &str) -> String {
    let names: Vec<&str> = app
        .editions
        .iter()
        .filter(|(id, _)| signed_up_for(stored, id.as_str()))
        .map(|(_, n)| n.as_str())
        .collect();
    names.join(" and ")
}

fn not_confirmed(app: &App, c: &Confirm) -> Response {
    let subscribe = app.project.config.subscribe_url();
    let page = match c {
        Confirm::Expired => pages::expired(&app.list_name, &subscribe),
        Confirm::Used { .. } => pages::used(&app.list_name, &subscribe),
        _ => pages::invalid(&app.list_name),
    };
    super::page(StatusCode::BAD_REQUEST, page)
}

pub async fn confirm_page(AxState(app): AxState<Arc<App>>, uri: Uri) -> Response {
    let token = App::token(&uri).unwrap_or_default();
    let t = token.clone();
    let now = crate::clock::now();
    match with_db(&app, move |s, a| signup::look_up(&a.project, s, &t, now)).await {
        Ok(Confirm::Ready {
            address, editions, ..
        }) => super::page(
            StatusCode::OK,
            pages::confirm_signup(
                &app.list_name,
                &address,
                &names(&app, &editions),
                &format!("confirm?t={}", encode(&token)),
            ),
        ),
        Ok(other) => not_confirmed(&app, &other),
        Err(e) => {
            log(&format!("cannot read a sign-up: {}", chain(&e)));
            super::page(
                StatusCode::SERVICE_UNAVAILABLE,
                pages::unavailable(&app.list_name),
            )
        }
    }
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub async fn confirm_post(AxState(app): AxState<Arc<App>>, uri: Uri) -> Response {
    let token = App::token(&uri).unwrap_or_default();
    let now = crate::clock::now();
    let result = with_db(&app, move |s, a| {
        signup::confirm(&a.project, s, &token, now)
    })
    .await;
    let (id, address, editions, welcome) = match result {
        Ok((
            Confirm::Ready {
                id,
                address,
                editions,
            },
            welcome,
        )) => (id, address, editions, welcome),
        Ok((other, _)) => return not_confirmed(&app, &other),
        Err(e) => {
            log(&format!("cannot confirm a sign-up: {}", chain(&e)));
            return super::page(
                StatusCode::SERVICE_UNAVAILABLE,
                pages::unavailable(&app.list_name),
            );
        }
    };
    log(&format!("{address} confirmed their sign-up"));
    let mut delivered = Vec::new();
    for out in &welcome {
        delivered.push(send(&app, out, "welcome").await);
    }
    if delivered.iter().any(Option::is_some) {
        let result = with_db(&app, move |s, _| {
            let sent: Vec<(&Outgoing, &str)> = welcome
                .iter()
                .zip(&delivered)
                .filter_map(|(o, d)| Some((o, d.as_deref()?)))
                .collect();
            signup::record_welcome(s, &sent, now)
        })
        .await;
        if let Err(e) = result {
            log(&format!("cannot journal a welcome: {}", chain(&e)));
        }
    }
    let manage = with_token(
        &app.project.config.manage_url(),
        &app.key.make(id, &Purpose::Manage),
    );
    super::page(
        StatusCode::OK,
        pages::subscribed(&app.list_name, &address, &names(&app, &editions), &manage),
    )
}
