//! The few HTML pages of the unsubscribe flow. Script-free, self-contained
//! (inline style, no external resources), not indexed, no referrer (the URL
//! carries the reader's token).

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::state::SubStatus;

const CSS: &str = "body{margin:0;background:#f6f5f1;color:#1d1d1b;font:17px/1.55 -apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}\
main{max-width:34rem;margin:4rem auto;padding:2rem 1.5rem;background:#fff;border:1px solid #ddd9cf;border-radius:6px}\
h1{font:600 1.5rem/1.3 Georgia,'Times New Roman',serif;margin:0 0 1rem}\
.address{font-weight:600;word-break:break-all}\
button{font:inherit;font-weight:600;padding:.6rem 1.2rem;border-radius:4px;border:1px solid #1d1d1b;background:#1d1d1b;color:#fff;cursor:pointer}\
button.secondary{background:#fff;color:#1d1d1b}\
.small{font-size:.9rem;color:#666}\
fieldset{border:1px solid #ddd9cf;border-radius:4px;margin:0 0 1rem;padding:.75rem 1rem}\
label.choice{display:block;padding:.3rem 0}\
form+form{margin-top:1rem}\
.note{background:#f1efe8;border-radius:4px;padding:.5rem .75rem}\
label{display:block;font-weight:600;margin:.75rem 0 .25rem}\
label.choice{font-weight:normal}\
input[type=email],input[type=text]{font:inherit;width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #8a8578;border-radius:4px}\
.error{background:#fbe9e7;border-left:4px solid #b3261e;padding:.5rem .75rem}\
.hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}\
:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}";

/// Where the forms post to, relative to the page's own URL.
pub struct Actions {
    /// e.g. `unsubscribe?t=TOKEN`
    pub unsubscribe: String,
    /// e.g. `resubscribe?t=TOKEN`
    pub resubscribe: String,
    /// e.g. `manage?t=TOKEN`, when the reader has a manage page.
    pub manage: Option<String>,
}

fn layout(list: &str, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex, nofollow";
                meta name="referrer" content="no-referrer";
                title { (title) " · " (list) }
                style { (PreEscaped(CSS)) }
            }
            body { main { (body) } }
        }
    }
}

fn unsubscribe_form(action: &str, label: &str) -> Markup {
    html! {
        form method="post" action=(action) {
            input type="hidden" name="confirm" value="yes";
            button type="submit" { (label) }
        }
    }
}

fn resubscribe_form(action: &str) -> Markup {
    html! {
        form method="post" action=(action) {
            input type="hidden" name="confirm" value="yes";
            button.secondary type="submit" { "Resubscribe" }
        }
    }
}

fn manage_link(a: &Actions) -> Markup {
    html! {
        @if let Some(m) = &a.manage {
            p.small { a href=(m) { "Manage your subscription" } ": choose editions, or leave everything." }
        }
    }
}

/// GET with a valid token: asks; only the button unsubscribes.
pub fn confirm(list: &str, scope: &str, address: &str, a: &Actions) -> Markup {
    layout(
        list,
        "Unsubscribe",
        html! {
            h1 { "Unsubscribe from " (scope) "?" }
            p { "You will stop receiving " (scope) " at " span.address { (address) } "." }
            (unsubscribe_form(&a.unsubscribe, "Unsubscribe"))
            p.small { "Changed your mind? Just close this page; nothing has changed." }
            (manage_link(a))
        },
    )
}

/// GET with a valid token for a reader who already left.
pub fn already(list: &str, scope: &str, address: &str, status: &SubStatus, a: &Actions) -> Markup {
    let why = match status {
        SubStatus::Bounced => "Mail to this address bounced, so we stopped sending.",
        SubStatus::Complained => {
            "Mail to this address was reported as unwanted, so we stopped sending."
        }
        _ => "You asked us to stop sending.",
    };
    layout(
        list,
        "Unsubscribed",
        html! {
            h1 { "You are unsubscribed" }
            p { span.address { (address) } " no longer receives " (scope) ". " (why) }
            p { "Want it back?" }
            (resubscribe_form(&a.resubscribe))
            (manage_link(a))
        },
    )
}

/// After the confirm button.
pub fn unsubscribed(list: &str, scope: &str, address: &str, a: &Actions) -> Markup {
    layout(
        list,
        "Unsubscribed",
        html! {
            h1 { "You are unsubscribed" }
            p { span.address { (address) } " will receive no more of " (scope) "." }
            p.small { "If a send was already under way, one last issue may still arrive." }
            p { "Clicked by mistake?" }
            (resubscribe_form(&a.resubscribe))
            (manage_link(a))
        },
    )
}

/// After the resubscribe button.
pub fn resubscribed(list: &str, scope: &str, address: &str, a: &Actions) -> Markup {
    layout(
        list,
        "Subscribed again",
        html! {
            h1 { "Welcome back" }
            p { span.address { (address) } " will receive " (scope) " again from the next issue." }
            (unsubscribe_form(&a.unsubscribe, "Unsubscribe again"))
            (manage_link(a))
        },
    )
}

/// The manage page: a checkbox per edition, save, or leave everything.
pub fn manage(
    list: &str,
    address: &str,
    editions: &[(String, String, bool)],
    action: &str,
    note: Option<&str>,
) -> Markup {
    layout(
        list,
        "Your subscription",
        html! {
            h1 { "Your subscription" }
            p { "What " span.address { (address) } " receives from " (list) ":" }
            @if let Some(n) = note { p.note role="status" { (n) } }
            form method="post" action=(action) {
                fieldset {
                    legend { "Editions" }
                    @for (id, name, on) in editions {
                        label.choice {
                            input type="checkbox" name="edition" value=(id) checked[*on];
                            " " (name)
                        }
                    }
                }
                button type="submit" name="action" value="save" { "Save" }
            }
            form method="post" action=(action) {
                button.secondary type="submit" name="action" value="leave" { "Unsubscribe from everything" }
            }
        },
    )
}

/// The subscribe form: address, optional name, a checkbox per edition,
/// and a honeypot field people never see.
pub fn subscribe(
    list: &str,
    editions: &[(String, String, bool)],
    email: &str,
    name: &str,
    error: Option<&str>,
) -> Markup {
    layout(
        list,
        "Subscribe",
        html! {
            h1 { "Subscribe to " (list) }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form method="post" action="subscribe" {
                label for="email" { "Your email address" }
                input #email type="email" name="email" required autocomplete="email" value=(email) aria-invalid=[error.map(|_| "true")];
                label for="name" { "Your name " span.small { "(optional, for the greeting)" } }
                input #name type="text" name="name" autocomplete="name" maxlength="100" value=(name);
                fieldset {
                    legend { "Editions" }
                    @for (id, label, on) in editions {
                        label.choice {
                            input type="checkbox" name="edition" value=(id) checked[*on];
                            " " (label)
                        }
                    }
                }
                // Hidden from people (and from screen readers); bots fill it.
                div.hp aria-hidden="true" {
                    label for="website" { "Leave this empty" }
                    input #website type="text" name="website" tabindex="-1" autocomplete="off";
                }
                button type="submit" { "Subscribe" }
            }
            p.small { "We will send one email to confirm. Nothing else until you do." }
        },
    )
}

/// After the form: the same answer whoever asked, so it tells nothing
/// about who is on the list.
pub fn check_inbox(list: &str) -> Markup {
    layout(
        list,
        "Check your inbox",
        html! {
            h1 { "Check your inbox" }
            p { "If that address can receive " (list) ", an email is on its way with a link to confirm. Nothing is sent until you do." }
            p.small { "Nothing arrived after a few minutes? Look in the spam folder, or try again in an hour." }
        },
    )
}

pub fn slow_down(list: &str) -> Markup {
    layout(
        list,
        "Too many requests",
        html! {
            h1 { "Please wait a little" }
            p { "There were too many sign-ups from your connection in a short time. Please try again in a few minutes." }
        },
    )
}

/// A confirmation link opened: a button, since a GET changes nothing.
pub fn confirm_signup(list: &str, address: &str, editions: &str, action: &str) -> Markup {
    layout(
        list,
        "Confirm",
        html! {
            h1 { "Confirm your subscription" }
            p { span.address { (address) } " will receive " (editions) " of " (list) "." }
            form method="post" action=(action) {
                button type="submit" { "Confirm" }
            }
        },
    )
}

pub fn subscribed(list: &str, address: &str, editions: &str, manage: &str) -> Markup {
    layout(
        list,
        "Subscribed",
        html! {
            h1 { "You are subscribed" }
            p { span.address { (address) } " will receive " (editions) " of " (list) ", starting with a welcome." }
            p { a href=(manage) { "Manage your subscription" } ": choose editions, or leave, at any time." }
        },
    )
}

pub fn expired(list: &str, subscribe: &str) -> Markup {
    layout(
        list,
        "Link expired",
        html! {
            h1 { "This link has expired" }
            p { "Confirmation links work for a limited time, and this one is past it; nothing was changed." }
            p { a href=(subscribe) { "Subscribe again" } " and use the new link." }
        },
    )
}

pub fn used(list: &str, subscribe: &str) -> Markup {
    layout(
        list,
        "Link used",
        html! {
            h1 { "This link was already used" }
            p { "This confirmation link has been used, or a newer one was sent; nothing was changed." }
            p { "Not subscribed yet? " a href=(subscribe) { "Start again" } "." }
        },
    )
}

/// A missing, truncated or altered token.
pub fn invalid(list: &str) -> Markup {
    layout(
        list,
        "Link not valid",
        html! {
            h1 { "This link does not work" }
            p { "The unsubscribe link is incomplete or has been changed. Please use the link at the foot of the newsletter exactly as it is, or simply reply to the newsletter and ask to be removed." }
        },
    )
}

/// The database could not be reached.
pub fn unavailable(list: &str) -> Markup {
    layout(
        list,
        "Try again",
        html! {
            h1 { "Something went wrong" }
            p { "Your request could not be recorded just now; nothing has changed. Please try again in a minute." }
        },
    )
}
