//! What a BlockRun call costs, the way BlockRun quotes it: input tokens (estimated as the body's
//! length / 4) at the input price, plus the output reservation (`max_tokens`) at the output
//! price, plus a flat $0.001 per paid call, at least $0.001; free models cost nothing. The
//! quote is paid in full before the model runs, so `max_tokens` is what the router chooses:
//! the model's whole output when it fits the per-request cap, lowered only as far as the cap
//! requires, never below `direct.min_output_tokens` (below that, the model does not fit).

use super::catalog::ModelInfo;
use crate::payments::policy::Usdc;

/// BlockRun's flat fee on every paid call, in USDC base units ($0.001).
pub const FLAT_FEE: u64 = 1_000;
/// The least a paid call costs ($0.001).
pub const MIN_CHARGE: u64 = 1_000;
/// Output tokens assumed for a model whose limit the catalog does not give.
pub const UNKNOWN_MAX_OUTPUT: u64 = 16_384;
/// Share of the per-request cap the plan uses: BlockRun counts tokens with a real tokenizer,
/// so its quote can differ a little from ours.
const CAP_SHARE: f64 = 0.95;

/// Input tokens of a Chat body, as BlockRun's clients estimate them.
pub fn input_tokens(body_len: usize) -> u64 {
    (body_len as u64).div_ceil(4)
}

/// The quote for a call to `model` with a body of `body_len` bytes and `max_tokens`.
pub fn quote(model: &ModelInfo, body_len: usize, max_tokens: u64) -> Usdc {
    if model.is_free() {
        return Usdc(0);
    }
    let usd = match model.flat_price {
        Some(flat) => flat,
        None => {
            (input_tokens(body_len) as f64 * model.input_price
                + max_tokens as f64 * model.output_price)
                / 1e6
        }
    };
    let units = (usd * 1e6).ceil().max(0.0) as u64;
    Usdc(units.saturating_add(FLAT_FEE).max(MIN_CHARGE))
}

/// Why a model cannot take a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Unfit {
    /// Even `min_output` tokens of answer would cost more than the cap.
    OverCap {
        /// The quote at `min_output` tokens.
        at_least: Usdc,
    },
    /// The request and `min_output` tokens of answer do not fit its context window.
    Context {
        /// Its context window, in tokens.
        window: u64,
        /// The request's estimated input tokens.
        input: u64,
    },
    /// The request offers tools and the model takes none.
    NoTools,
    /// The request sends images and the model takes none.
    NoImages,
    /// Not in BlockRun's catalog.
    Unknown,
}

impl std::fmt::Display for Unfit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unfit::OverCap { at_least } => write!(f, "would cost at least {at_least}"),
            Unfit::Context { window, input } => write!(
                f,
                "the request (~{input} tokens) does not fit its {window}-token context"
            ),
            Unfit::NoTools => f.write_str("it takes no tools"),
            Unfit::NoImages => f.write_str("it takes no images"),
            Unfit::Unknown => f.write_str("BlockRun's catalog does not list it"),
        }
    }
}

/// The output budget for `model`: its whole output when the quote fits `cap`, else the most
/// that fits, not below `min_output` (then [`Unfit::OverCap`]). Also checks the context.
pub fn output_budget(
    model: &ModelInfo,
    body_len: usize,
    cap: Usdc,
    min_output: u64,
) -> Result<u64, Unfit> {
    let max = model.max_output.unwrap_or(UNKNOWN_MAX_OUTPUT);
    let floor = min_output.min(max);
    let input = input_tokens(body_len);
    if let Some(window) = model.context_window {
        if input.saturating_add(floor) > window {
            return Err(Unfit::Context { window, input });
        }
    }
    let room = model
        .context_window
        .map_or(max, |window| max.min(window - input));
    if model.is_free() || model.flat_price.is_some() || model.output_price <= 0.0 {
        let at_least = quote(model, body_len, floor);
        return if at_least.0 as f64 <= cap.0 as f64 * CAP_SHARE || model.is_free() {
            Ok(room)
        } else {
            Err(Unfit::OverCap { at_least })
        };
    }
    let usable = cap.0 as f64 * CAP_SHARE - FLAT_FEE as f64 - input as f64 * model.input_price;
    let affordable = (usable / model.output_price).floor();
    let budget = if affordable <= 0.0 {
        0
    } else {
        (affordable as u64).min(room)
    };
    if budget < floor {
        return Err(Unfit::OverCap {
            at_least: quote(model, body_len, floor),
        });
    }
    Ok(budget)
}

/// The most output tokens `model` may be given so that the call's quote stays within
/// `amount` (signing ahead for an amount BlockRun quoted before); `None` when no output fits.
pub fn budget_within(model: &ModelInfo, body_len: usize, amount: Usdc) -> Option<u64> {
    let max = model.max_output.unwrap_or(UNKNOWN_MAX_OUTPUT);
    if model.is_free() || model.flat_price.is_some() || model.output_price <= 0.0 {
        return (quote(model, body_len, max).0 <= amount.0).then_some(max);
    }
    let usable =
        amount.0 as f64 - FLAT_FEE as f64 - input_tokens(body_len) as f64 * model.input_price;
    // One token less than the exact fit: the quote rounds up to a base unit.
    let tokens = (usable / model.output_price).floor() - 1.0;
    if tokens < 1.0 {
        return None;
    }
    let budget = (tokens as u64).min(max);
    (quote(model, body_len, budget).0 <= amount.0).then_some(budget)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sonnet() -> ModelInfo {
        ModelInfo {
            id: "anthropic/claude-sonnet-4.6".into(),
            input_price: 3.0,
            output_price: 15.0,
            flat_price: None,
            context_window: Some(200_000),
            max_output: Some(64_000),
            tools: true,
            vision: true,
        }
    }

    #[test]
    fn the_quote_follows_blockruns_formula() {
        // 4000 bytes = 1000 tokens × $3/M = $0.003; 1000 out × $15/M = $0.015; + $0.001.
        assert_eq!(quote(&sonnet(), 4000, 1000), Usdc(19_000));
        let free = ModelInfo {
            input_price: 0.0,
            output_price: 0.0,
            ..sonnet()
        };
        assert_eq!(quote(&free, 4000, 1000), Usdc(0));
        let tiny = ModelInfo {
            input_price: 0.0001,
            output_price: 0.0001,
            ..sonnet()
        };
        assert_eq!(quote(&tiny, 4, 1), Usdc(MIN_CHARGE + 1));
    }

    #[test]
    fn the_whole_output_when_it_fits_else_as_much_as_the_cap_allows() {
        // 64000 × $15/M = $0.96 + input: fits a $2 cap whole.
        assert_eq!(
            output_budget(&sonnet(), 4000, Usdc(2_000_000), 4096),
            Ok(64_000)
        );
        // $0.50 cap: 0.475 − 0.001 − 0.003 = 0.471 → 31,400 tokens.
        let budget = output_budget(&sonnet(), 4000, Usdc(500_000), 4096).unwrap();
        assert_eq!(budget, 31_400);
        assert!(quote(&sonnet(), 4000, budget).0 <= 500_000);
        // 400 KB of history on a $0.50 cap: the input alone is $0.30, 11,733 tokens left.
        let budget = output_budget(&sonnet(), 400_000, Usdc(500_000), 4096).unwrap();
        assert!(quote(&sonnet(), 400_000, budget).0 <= 500_000);
        assert!(budget >= 4096, "{budget}");
    }

    #[test]
    fn a_budget_within_an_earlier_quote_never_prices_above_it() {
        for (body_len, amount) in [(4000, 19_000), (40_000, 500_000), (123_457, 100_003)] {
            let budget = budget_within(&sonnet(), body_len, Usdc(amount)).unwrap();
            assert!(
                quote(&sonnet(), body_len, budget).0 <= amount,
                "{body_len} {amount}"
            );
            assert!(
                quote(&sonnet(), body_len, budget + 20).0 > amount,
                "{body_len} {amount}"
            );
        }
        assert_eq!(budget_within(&sonnet(), 4000, Usdc(3_000)), None);
    }

    #[test]
    fn a_model_that_cannot_give_the_minimum_within_the_cap_or_context_does_not_fit() {
        let over = output_budget(&sonnet(), 400_000, Usdc(100_000), 4096);
        assert!(matches!(over, Err(Unfit::OverCap { .. })), "{over:?}");
        let small = ModelInfo {
            context_window: Some(8_000),
            ..sonnet()
        };
        assert_eq!(
            output_budget(&small, 20_000, Usdc(10_000_000), 4096),
            Err(Unfit::Context {
                window: 8_000,
                input: 5_000
            })
        );
        // The output never runs past the context window.
        let tight = ModelInfo {
            context_window: Some(70_000),
            ..sonnet()
        };
        assert_eq!(
            output_budget(&tight, 40_000, Usdc(10_000_000), 4096),
            Ok(60_000)
        );
    }
}
