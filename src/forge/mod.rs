//! HTTP clients for the forges ccci talks to (Drone today; Gitea lives beside it).
//!
//! Errors at this boundary are classified the way ofborg does it, so callers
//! match on [`ErrorClass`] (retry later, skip, give up) instead of on strings.

pub mod drone;

/// What a caller should do about a failed forge call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Transient: timeouts, refused connections, 5xx. Try again later.
    Retryable,
    /// The thing is not there (404) or the request was refused as invalid for
    /// this object: skip it, do not retry.
    Skip,
    /// The configuration is wrong (401/403, bad URL, undecodable answers): a
    /// human must fix it; retrying cannot help.
    Fatal,
}
