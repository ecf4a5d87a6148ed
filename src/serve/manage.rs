//! The manage page: a reader ticks the editions they want, or leaves
//! everything. A GET shows; only the form's POST changes anything.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{StatusCode, Uri};
use axum::response::Response;

use super::{App, chain, log, pages, with_db};
use crate::app::suppress;
use crate::state::{SubStatus, Subscriber};

/// The reader's editions as the page shows them: (id, name, ticked).
fn choices(app: &App, s: &Subscriber) -> Vec<(String, String, bool)> {
    app.editions
        .iter()
        .map(|(id, name)| {
            let on = s.status == SubStatus::Active && s.wants(id.as_str());
            (id.to_string(), name.clone(), on)
        })
        .collect()
}

pub async fn page(AxState(app): AxState<Arc<App>>, uri: Uri) -> Response {
    let token = App::token(&uri).unwrap_or_default();
    let t = token.clone();
    match with_db(&app, move |s, a| suppress::manager(s, &a.key, &t)).await {
        Ok(Some(s)) => super::page(
            StatusCode::OK,
            pages::manage(
                &app.list_name,
                &s.address,
                &choices(&app, &s),
                &action(&token),
                None,
            ),
        ),
        Ok(None) => super::page(StatusCode::BAD_REQUEST, pages::invalid(&app.list_name)),
        Err(e) => {
            log(&format!(
                "cannot read a reader for the manage page: {}",
                chain(&e)
            ));
            super::page(
                StatusCode::SERVICE_UNAVAILABLE,
                pages::unavailable(&app.list_name),
            )
        }
    }
}

fn action(token: &str) -> String {
    let t: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
    format!("manage?t={t}")
}

/// What the form asks for: these editions, or leaving.
fn wanted(app: &App, body: &[u8]) -> Option<Vec<String>> {
    let mut on = Vec::new();
    let mut leave = false;
    for (k, v) in url::form_urlencoded::parse(body) {
        match k.as_ref() {
            "edition" if app.editions.iter().any(|(id, _)| id.as_str() == v) => {
                on.push(v.into_owned())
            }
            "action" if v == "leave" => leave = true,
            "action" if v == "save" => {}
            _ => return None,
        }
    }
    Some(if leave { Vec::new() } else { on })
}

pub async fn post(AxState(app): AxState<Arc<App>>, uri: Uri, body: Bytes) -> Response {
    let token = App::token(&uri).unwrap_or_default();
    let Some(on) = wanted(&app, &body) else {
        return super::text(
            StatusCode::BAD_REQUEST,
            "this form has fields it should not; nothing was changed\n".into(),
        );
    };
    let t = token.clone();
    let now = crate::clock::now().to_rfc3339();
    let result = with_db(&app, move |s, a| {
        let Some(sub) = suppress::manager(s, &a.key, &t)? else {
            return Ok(None);
        };
        let known: Vec<String> = a.editions.iter().map(|(id, _)| id.to_string()).collect();
        s.set_editions(sub.id, &known, &on, "the manage page", &now)?;
        Ok(s.subscriber_by_id(sub.id)?)
    })
    .await;
    match result {
        Ok(Some(s)) => {
            log(&format!(
                "{} chose their editions on the manage page",
                s.address
            ));
            let saved = choices(&app, &s);
            let note = if saved.iter().any(|(_, _, on)| *on) {
                "Saved."
            } else {
                "You are unsubscribed from everything. Tick an edition and save to come back."
            };
            super::page(
                StatusCode::OK,
                pages::manage(
                    &app.list_name,
                    &s.address,
                    &saved,
                    &action(&token),
                    Some(note),
                ),
            )
        }
        Ok(None) => super::page(StatusCode::BAD_REQUEST, pages::invalid(&app.list_name)),
        Err(e) => {
            log(&format!("cannot save a manage form: {}", chain(&e)));
            super::page(
                StatusCode::SERVICE_UNAVAILABLE,
                pages::unavailable(&app.list_name),
            )
        }
    }
}
