//! Pure translation between the OpenAI Responses API (what Codex speaks) and Chat Completions
//! (what the upstream speaks). Nothing here knows about Pingora, sockets or time-outs: every
//! function takes bytes or values and returns bytes or values, so it is unit-tested on fixtures.
//!
//! - [`request`]: a Responses request body → a Chat Completions request body ([`ChatPlan`]).
//! - [`tools`]: tool names both ways (freeform tools, MCP namespaces, the 64-character limit).
//! - [`response`]: a `chat.completion` → Responses output items, the Response object and the
//!   full SSE event sequence.
//! - [`chat_in`]: the upstream's Chat answers (a whole completion or a stream chunk), read
//!   once by typed borrowed views that both translations share.
//! - [`events`]: the Responses event writer (sequence numbers, item ids, output indexes).
//! - [`leaked`]: tool calls a model wrote into its text, recovered as real calls (also while
//!   streaming: only the suspect span is held back).
//! - [`sse`]: an incremental parser for the upstream's `text/event-stream` body.
//! - [`stream`]: the one translation core for both upstream modes: chunks (or a whole
//!   `chat.completion`) in, Responses events out, as the bytes arrive.
//! - [`model_notice`]: the line saying a free model answered instead of the chosen one.
//! - [`ids`]: unique ids for responses and items.
//! - [`reasoning`]: reasoning text sealed into `encrypted_content` and opened again next turn.
//! - [`upstream_error`]: an upstream failure → what Codex must be told.
//! - [`web_search`]: the bridge-run web search's tool, arguments, results and sealed records.

pub mod chat_in;
pub mod events;
pub mod ids;
pub mod leaked;
pub mod model_notice;
pub mod reasoning;
pub mod request;
pub mod response;
pub mod sse;
pub mod stream;
pub mod tools;
pub mod upstream_error;
pub mod web_search;
