//! The seed system.
