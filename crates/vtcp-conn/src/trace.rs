//! Diagnostics through `tracing`, with the `tracing` feature: state
//! changes, RTOs, recoveries, undos, tail-loss probes and segments dropped
//! with the reason (target `vtcp_conn`; the `vtcp` crate adds the stack's
//! own: checksums, cookies, resets). Without the feature the macro
//! expands to nothing and costs nothing.

/// `trace_event!(LEVEL, fields..., "message")`: a `tracing` event at
/// `tracing::Level::LEVEL` with the feature, nothing without it.
#[cfg(feature = "tracing")]
#[doc(hidden)]
#[macro_export]
macro_rules! trace_event {
    ($level:ident, $($rest:tt)*) => {
        $crate::__tracing::event!($crate::__tracing::Level::$level, $($rest)*)
    };
}

/// `trace_event!(LEVEL, fields..., "message")`: nothing without the
/// `tracing` feature.
#[cfg(not(feature = "tracing"))]
#[doc(hidden)]
#[macro_export]
macro_rules! trace_event {
    ($($rest:tt)*) => {};
}
