//! Endpoints the bridge answers itself (no translation): `/health`, `/api/tags`, `/api/version`,
//! `/metrics`, and the loopback dashboard (`/dashboard`, `/dashboard/api/*`). Each builds and
//! sends its whole answer here (through [`crate::session_io`]); `proxy` only routes to them.

pub mod dashboard;
pub mod health;
pub mod metrics;
pub mod ollama;
