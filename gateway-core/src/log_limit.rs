//! Repeated failures of one kind, summarized: at most one log line per kind per
//! [`EVERY`], carrying how many were left out since the last. A service that is down, a
//! flood of corrupt frames or unknown patterns make a few lines an operator can keep, not one
//! per failure.
//!
//! Kinds must be few (a service and an error kind, a fixed message), never a value a peer
//! chooses: the table holds one entry per kind.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The interval between two lines of one kind.
pub(crate) const EVERY: Duration = Duration::from_secs(10);

static KINDS: Mutex<Option<HashMap<Cow<'static, str>, Window>>> = Mutex::new(None);

#[derive(Debug, Clone, Copy)]
struct Window {
    logged: Instant,
    left_out: u64,
}

/// Whether a line of `kind` may be written now: `Some(left out since the last line)`, or
/// `None` (counted) within [`EVERY`] of the last one.
pub(crate) fn allow(kind: impl Into<Cow<'static, str>>) -> Option<u64> {
    allow_at(kind.into(), Instant::now())
}

fn allow_at(kind: Cow<'static, str>, now: Instant) -> Option<u64> {
    let mut kinds = KINDS.lock().unwrap_or_else(PoisonError::into_inner);
    let kinds = kinds.get_or_insert_with(HashMap::new);
    match kinds.get_mut(&kind) {
        Some(window) if now.duration_since(window.logged) < EVERY => {
            window.left_out += 1;
            None
        }
        Some(window) => {
            let left_out = window.left_out;
            *window = Window {
                logged: now,
                left_out: 0,
            };
            Some(left_out)
        }
        None => {
            kinds.insert(
                kind,
                Window {
                    logged: now,
                    left_out: 0,
                },
            );
            Some(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_kind_per_interval_with_the_count_left_out() {
        let start = Instant::now();
        let kind = || Cow::Borrowed("test: a service is down");
        assert_eq!(allow_at(kind(), start), Some(0));
        for i in 1..=1000 {
            assert_eq!(allow_at(kind(), start + Duration::from_millis(i)), None);
        }
        // Another kind is not held back by the first.
        assert_eq!(allow_at(Cow::Borrowed("test: another"), start), Some(0));
        assert_eq!(allow_at(kind(), start + EVERY), Some(1000));
        assert_eq!(allow_at(kind(), start + EVERY + EVERY / 2), None);
    }
}
