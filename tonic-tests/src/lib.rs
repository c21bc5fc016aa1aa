//! Nothing here: the tests are in `tests/` (see Cargo.toml).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
