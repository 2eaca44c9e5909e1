//! Endpoints the bridge answers itself (no translation): `/health`, `/api/tags`, `/api/version`,
//! and the loopback dashboard (`/dashboard`, `/dashboard/api/*`). Each builds its answer here;
//! `proxy::local` writes it.

pub mod dashboard;
pub mod health;
pub mod ollama;
