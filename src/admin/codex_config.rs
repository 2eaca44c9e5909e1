//! Format-preserving, atomic edits of Codex's TOML configuration files.
//!
//! Not built yet: the command says so and exits 1.
