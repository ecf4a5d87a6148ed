//! An in-memory transport for the send engine's own tests: it answers each
//! attempt from a script (accept, defer, reject, break) and records what it
//! accepted, so retries, backoff, aborts and the journal can be checked
//! in-process. The black-box tests against Postfix's smtp-sink stay the
//! proof that real SMTP works.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use super::reply::Reply;
use super::transport::{Attempt, Envelope, Session, Transport, TransportError, Via};

/// What the recorder answers to one attempt.
#[derive(Debug, Clone)]
pub enum Answer {
    Accept,
    Defer(u16, &'static str),
    Reject {
        code: u16,
        text: &'static str,
        at_rcpt: bool,
    },
    Break,
    Unusable,
}

/// A message the recorder accepted.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub to: String,
    pub message_id: String,
    pub bytes: Vec<u8>,
}

type Hook = Box<dyn Fn(&str) + Send + Sync>;

#[derive(Default)]
struct Inner {
    /// Answers in order; when empty, `fallback` answers.
    script: VecDeque<Answer>,
    fallback: Option<Answer>,
    /// Connections refused in a row before one succeeds (`usize::MAX`: all).
    refuse_connections: usize,
    connections: usize,
    attempts: usize,
    accepted: Vec<Accepted>,
}

/// Cheap to clone: clones share the script and the record.
#[derive(Clone, Default)]
pub struct Recorder {
    inner: Arc<Mutex<Inner>>,
    /// Called with the recipient before each attempt is answered.
    before: Option<Arc<Hook>>,
}

impl Recorder {
    pub fn new() -> Self {
        Recorder::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Answers the next attempts in this order, then `fallback` (accept by
    /// default).
    pub fn script(self, answers: impl IntoIterator<Item = Answer>) -> Self {
        self.with(|i| i.script.extend(answers));
        self
    }

    pub fn otherwise(self, answer: Answer) -> Self {
        self.with(|i| i.fallback = Some(answer));
        self
    }

    pub fn refuse_connections(self, n: usize) -> Self {
        self.with(|i| i.refuse_connections = n);
        self
    }

    pub fn before_each(mut self, hook: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.before = Some(Arc::new(Box::new(hook)));
        self
    }

    pub fn accepted(&self) -> Vec<Accepted> {
        self.with(|i| i.accepted.clone())
    }

    pub fn attempts(&self) -> usize {
        self.with(|i| i.attempts)
    }

    pub fn connections(&self) -> usize {
        self.with(|i| i.connections)
    }
}

impl Transport for Recorder {
    type Session = Recorder;

    fn via(&self) -> Via {
        Via::Memory
    }

    fn describe(&self) -> String {
        "the in-memory recorder".into()
    }

    async fn connect(&self) -> Result<Recorder, TransportError> {
        let refused = self.with(|i| {
            i.connections += 1;
            if i.refuse_connections > 0 {
                i.refuse_connections = i.refuse_connections.saturating_sub(1);
                true
            } else {
                false
            }
        });
        if refused {
            return Err(TransportError::Connect {
                server: "memory".into(),
                source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
            });
        }
        Ok(self.clone())
    }
}

impl Session for Recorder {
    async fn send(&mut self, envelope: &Envelope<'_>, message: &[u8]) -> Attempt {
        if let Some(hook) = &self.before {
            hook(envelope.to.as_ref());
        }
        self.with(|i| {
            i.attempts += 1;
            let answer = i
                .script
                .pop_front()
                .or_else(|| i.fallback.clone())
                .unwrap_or(Answer::Accept);
            match answer {
                Answer::Accept => {
                    i.accepted.push(Accepted {
                        to: envelope.to.to_string(),
                        message_id: envelope.message_id.to_owned(),
                        bytes: message.to_vec(),
                    });
                    Attempt::Accepted(Reply::new(250, "2.0.0 Ok: recorded"))
                }
                Answer::Defer(code, text) => Attempt::Deferred(Reply::new(code, text)),
                Answer::Reject {
                    code,
                    text,
                    at_rcpt,
                } => Attempt::Rejected {
                    reply: Reply::new(code, text),
                    at_rcpt,
                },
                Answer::Break => Attempt::Broken("the recorder dropped the session".into()),
                Answer::Unusable => Attempt::Unusable("the recorder is full".into()),
            }
        })
    }

    fn is_broken(&self) -> bool {
        false
    }

    async fn quit(self) {}
}
