//! The unsubscribe flow: the one-click POST (RFC 8058), the confirm page a
//! link opens (which changes nothing), its button, and the undo.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;

use super::{App, Intent, chain, form, log, pages, text, with_db};
use crate::app::suppress::{self, Holder};
use crate::mail::Purpose;

/// The manage token of a token's reader (none for an address that was
/// never stored).
fn manage_token(app: &App, h: &Holder) -> Option<String> {
    (h.subscriber.id != 0).then(|| app.key.make(h.subscriber.id, &Purpose::Manage))
}

/// `GET`: asks (or says they already left); only the button acts.
pub async fn page(AxState(app): AxState<Arc<App>>, uri: Uri) -> Response {
    let Some(token) = App::token(&uri) else {
        return self::page_invalid(&app);
    };
    let t = token.clone();
    let found = with_db(&app, move |s, a| suppress::holder(s, &a.key, &t)).await;
    match found {
        Ok(Some(h)) => {
            let a = app.actions(&token, manage_token(&app, &h).as_deref());
            let scope = app.scope_name(&h.scope);
            let address = &h.subscriber.address;
            if suppress::has_left(&h) {
                super::page(
                    StatusCode::OK,
                    pages::already(&app.list_name, &scope, address, &h.subscriber.status, &a),
                )
            } else {
                super::page(
                    StatusCode::OK,
                    pages::confirm(&app.list_name, &scope, address, &a),
                )
            }
        }
        Ok(None) => page_invalid(&app),
        Err(e) => {
            log(&format!("cannot read a reader for a token: {}", chain(&e)));
            super::page(
                StatusCode::SERVICE_UNAVAILABLE,
                pages::unavailable(&app.list_name),
            )
        }
    }
}

fn page_invalid(app: &App) -> Response {
    super::page(StatusCode::BAD_REQUEST, pages::invalid(&app.list_name))
}

/// `POST`: one-click (RFC 8058) or the confirm page's button.
pub async fn post(
    AxState(app): AxState<Arc<App>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let intent = form::intent(content_type, &body);
    if intent == Intent::Unknown {
        return text(
            StatusCode::BAD_REQUEST,
            "expected List-Unsubscribe=One-Click (RFC 8058) or the confirm form; nothing was changed\n"
                .into(),
        );
    }
    let how = if intent == Intent::OneClick {
        "one-click unsubscribe"
    } else {
        "the unsubscribe page"
    };
    let token = App::token(&uri).unwrap_or_default();
    let t = token.clone();
    let now = crate::clock::now().to_rfc3339();
    let result = with_db(&app, move |s, a| {
        let Some(h) = suppress::holder(s, &a.key, &t)? else {
            return Ok(None);
        };
        let changed = suppress::leave(s, &h, how, &now)?;
        Ok(Some((h, changed)))
    })
    .await;
    let (h, changed) = match result {
        Ok(Some(v)) => v,
        Ok(None) if intent == Intent::OneClick => {
            return text(
                StatusCode::BAD_REQUEST,
                "this unsubscribe link is not valid; nothing was changed\n".into(),
            );
        }
        Ok(None) => return page_invalid(&app),
        Err(e) => {
            log(&format!("cannot record an unsubscribe: {}", chain(&e)));
            return match intent {
                Intent::OneClick => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the unsubscribe could not be recorded; please try again\n".into(),
                ),
                _ => super::page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    pages::unavailable(&app.list_name),
                ),
            };
        }
    };
    let scope = app.scope_name(&h.scope);
    if changed {
        log(&format!(
            "unsubscribed {} from {scope} ({how})",
            h.subscriber.address
        ));
    }
    if intent == Intent::OneClick {
        return text(
            StatusCode::OK,
            format!("{} is unsubscribed from {scope}.\n", h.subscriber.address),
        );
    }
    let a = app.actions(&token, manage_token(&app, &h).as_deref());
    super::page(
        StatusCode::OK,
        pages::unsubscribed(&app.list_name, &scope, &h.subscriber.address, &a),
    )
}

/// `POST /resubscribe`: the undo of a leave, for the same scope.
pub async fn undo(AxState(app): AxState<Arc<App>>, uri: Uri) -> Response {
    let token = App::token(&uri).unwrap_or_default();
    let t = token.clone();
    let now = crate::clock::now().to_rfc3339();
    let result = with_db(&app, move |s, a| {
        let Some(h) = suppress::holder(s, &a.key, &t)? else {
            return Ok(None);
        };
        let changed = suppress::undo(s, &h, "resubscribed on the unsubscribe page", &now)?;
        Ok(Some((h, changed)))
    })
    .await;
    let (h, changed) = match result {
        Ok(Some(v)) => v,
        Ok(None) => return page_invalid(&app),
        Err(e) => {
            log(&format!("cannot record a resubscribe: {}", chain(&e)));
            return super::page(
                StatusCode::SERVICE_UNAVAILABLE,
                pages::unavailable(&app.list_name),
            );
        }
    };
    let scope = app.scope_name(&h.scope);
    if changed {
        log(&format!("resubscribed {} to {scope}", h.subscriber.address));
    }
    let a = app.actions(&token, manage_token(&app, &h).as_deref());
    super::page(
        StatusCode::OK,
        pages::resubscribed(&app.list_name, &scope, &h.subscriber.address, &a),
    )
}
