//! Endpoints the bridge answers itself (no translation): `/health`, `/api/tags`, `/api/version`.
//! Each builds its JSON here; `proxy::local` writes it.

pub mod health;
pub mod ollama;
