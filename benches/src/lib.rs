//! Shared inputs for the criterion benchmarks.
