//! The journal writer: one thread owns the state database and commits the
//! outcomes workers report, many per transaction (group commit). A worker
//! waits for its outcome's commit before taking the next recipient, which is
//! what bounds a crash's duplicates to one message per connection.

use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use crate::state::{Outcome, State};

/// Why an outcome was not recorded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("the journal writer has stopped")]
    Stopped,
    #[error("the journal could not be written")]
    Write(#[source] Arc<crate::state::Error>),
}

type Request = (Outcome, oneshot::Sender<Result<(), Error>>);

#[derive(Clone)]
pub struct Handle {
    tx: mpsc::UnboundedSender<Request>,
}

impl Handle {
    /// Records one outcome; returns once it is committed.
    pub async fn record(&self, o: Outcome) -> Result<(), Error> {
        let (ack, done) = oneshot::channel();
        self.tx.send((o, ack)).map_err(|_| Error::Stopped)?;
        done.await.map_err(|_| Error::Stopped)?
    }
}

/// Starts the writer for deliveries of `issue` (each outcome says where it
/// went). It stops when
/// every `Handle` is dropped; join it to get the state back.
pub fn start(
    mut state: State,
    issue: String,
    now: impl Fn() -> String + Send + 'static,
) -> (Handle, JoinHandle<State>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Request>();
    let thread = std::thread::spawn(move || {
        while let Some(first) = rx.blocking_recv() {
            let mut batch = vec![first];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
            }
            let (outcomes, acks): (Vec<Outcome>, Vec<_>) = batch.into_iter().unzip();
            let result = state
                .record(&issue, &outcomes, &now())
                .map_err(|e| Error::Write(Arc::new(e)));
            for ack in acks {
                let _ = ack.send(result.clone());
            }
        }
        state
    });
    (Handle { tx }, thread)
}
