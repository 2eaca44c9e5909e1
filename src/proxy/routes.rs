//! Which endpoint a request is for. One place decides, so every hook agrees.

/// The endpoints the bridge serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Route {
    /// `POST /v1/responses`: the translation.
    Responses,
    /// `GET /v1/responses` upgraded to a WebSocket (set by the handler, never by
    /// [`Route::classify`]): the same translation, one request per message.
    ResponsesWebSocket,
    /// Any other `/v1/*`: passed through to the upstream unchanged.
    #[default]
    Passthrough,
    /// `GET /health` (`?full=true` for the proxy's wallet fields).
    Health,
    /// `GET /api/tags`: Ollama-style model list.
    OllamaTags,
    /// `GET /api/version`: Ollama-style version.
    OllamaVersion,
    /// `/dashboard` and `/dashboard/api/*`: the loopback dashboard.
    Dashboard,
    /// `GET /metrics`: Prometheus text format.
    Metrics,
    /// Anything else.
    NotFound,
}

impl Route {
    /// Classifies a request by path (the method is checked by each handler).
    pub fn classify(path: &str) -> Route {
        match path.trim_end_matches('/') {
            "/v1/responses" => Route::Responses,
            "/health" => Route::Health,
            "/api/tags" => Route::OllamaTags,
            "/api/version" => Route::OllamaVersion,
            "/dashboard" => Route::Dashboard,
            "/metrics" => Route::Metrics,
            p if p.starts_with("/dashboard/") => Route::Dashboard,
            p if p == "/v1" || p.starts_with("/v1/") => Route::Passthrough,
            _ => Route::NotFound,
        }
    }

    /// Label for logs and metrics.
    pub fn label(self) -> &'static str {
        match self {
            Route::Responses => "responses",
            Route::ResponsesWebSocket => "responses_websocket",
            Route::Passthrough => "passthrough",
            Route::Health => "health",
            Route::OllamaTags => "api_tags",
            Route::OllamaVersion => "api_version",
            Route::Dashboard => "dashboard",
            Route::Metrics => "metrics",
            Route::NotFound => "not_found",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_every_endpoint() {
        assert_eq!(Route::classify("/v1/responses"), Route::Responses);
        assert_eq!(Route::classify("/v1/responses/"), Route::Responses);
        assert_eq!(Route::classify("/v1/models"), Route::Passthrough);
        assert_eq!(Route::classify("/v1/chat/completions"), Route::Passthrough);
        assert_eq!(Route::classify("/health"), Route::Health);
        assert_eq!(Route::classify("/api/tags"), Route::OllamaTags);
        assert_eq!(Route::classify("/api/version"), Route::OllamaVersion);
        assert_eq!(Route::classify("/dashboard"), Route::Dashboard);
        assert_eq!(Route::classify("/dashboard/api/state"), Route::Dashboard);
        assert_eq!(Route::classify("/dashboards"), Route::NotFound);
        assert_eq!(Route::classify("/metrics"), Route::Metrics);
        assert_eq!(Route::classify("/"), Route::NotFound);
        assert_eq!(Route::classify("/v10/x"), Route::NotFound);
    }
}
