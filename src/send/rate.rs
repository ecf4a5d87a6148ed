//! A shared rate limit over all connections: messages are spaced at least
//! `1/rate` apart (and `3600/per_hour` apart when an hourly cap is set), so
//! bursts never exceed what the provider allows.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

pub struct Limiter {
    interval: Option<Duration>,
    next: Mutex<Option<Instant>>,
}

impl Limiter {
    pub fn new(per_second: Option<f64>, per_hour: Option<u64>) -> Limiter {
        let a = per_second.map(|r| Duration::from_secs_f64(1.0 / r));
        let b = per_hour.map(|h| Duration::from_secs_f64(3600.0 / h as f64));
        let interval = match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        Limiter {
            interval,
            next: Mutex::new(None),
        }
    }

    pub fn unlimited() -> Limiter {
        Limiter::new(None, None)
    }

    /// Waits for this caller's slot.
    pub async fn wait(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spaces_messages() {
        let l = Limiter::new(Some(10.0), None);
        let start = Instant::now();
        for _ in 0..11 {
            l.wait().await;
        }
        // 11 slots at 100 ms spacing: the last starts 1 s after the first.
        assert_eq!(start.elapsed().as_millis(), 1000);
    }

    #[test]
    fn hourly_cap_wins_when_stricter() {
        let l = Limiter::new(Some(100.0), Some(3600));
        assert_eq!(l.interval, Some(Duration::from_secs(1)));
    }
}
