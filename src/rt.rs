//! The async runtime and the stop signal, built one way for every caller
//! (sends, `serve`, `preview`), so signal handling can't drift between them.

use std::future::Future;

/// A multi-threaded tokio runtime with I/O and timers.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

/// Registers the Ctrl-C and SIGTERM handlers now, and returns a future that
/// resolves on either. Registering up front matters: a signal that arrives
/// between "listening" and the first poll must already mean a clean stop,
/// not the default kill. Must be called inside a runtime.
#[cfg(unix)]
pub fn stop_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

#[cfg(not(unix))]
pub fn stop_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
