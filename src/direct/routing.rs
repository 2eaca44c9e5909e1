//! Direct mode's router: `blockrun/auto`, `blockrun/eco` and `blockrun/premium` (the models
//! Codex users pick today) become, per request, the cheapest of the profile's candidates that
//! fits the request — its size in the model's context, its tools, its images, and a price
//! within the per-request cap for at least `direct.min_output_tokens` of answer — with the
//! other fitting candidates as the fallback chain, cheapest first. Candidates ship in
//! `conf/direct-routing.yaml` (built in) and can be replaced (`direct.routing`). A model named
//! outright is one candidate. Pure: the catalog comes in as data.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;

use super::catalog::ModelInfo;
use super::pricing::{self, Unfit};
use crate::payments::policy::Usdc;

/// The built-in candidates.
pub const BUILTIN_ROUTING: &str = include_str!("../../conf/direct-routing.yaml");

/// Prefix Codex's model names carry (`blockrun/auto`); BlockRun's ids have none.
const MODEL_PREFIX: &str = "blockrun/";

/// The routing profiles: name → candidates.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profiles {
    profiles: BTreeMap<String, Vec<String>>,
}

impl Profiles {
    /// The built-in profiles.
    pub fn builtin() -> Profiles {
        // Checked by a unit test; an empty table only makes every profile name a model id.
        Profiles::parse(BUILTIN_ROUTING).unwrap_or(Profiles {
            profiles: BTreeMap::new(),
        })
    }

    /// Profiles from YAML text.
    pub fn parse(text: &str) -> Result<Profiles, String> {
        let profiles: Profiles = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        if let Some((name, _)) = profiles.profiles.iter().find(|(_, c)| c.is_empty()) {
            return Err(format!("the profile {name} has no candidates"));
        }
        Ok(profiles)
    }

    /// Profiles from a file (`direct.routing`).
    pub fn read(path: &Path) -> Result<Profiles, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the routing file {}: {e}", path.display()))?;
        Profiles::parse(&text).map_err(|e| format!("the routing file {}: {e}", path.display()))
    }

    /// The profile `requested` names (`blockrun/auto`, `auto`), if it names one.
    pub fn profile(&self, requested: &str) -> Option<(&str, &[String])> {
        let name = requested.strip_prefix(MODEL_PREFIX).unwrap_or(requested);
        self.profiles
            .get_key_value(name)
            .map(|(name, candidates)| (name.as_str(), candidates.as_slice()))
    }

    /// The profile names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.profiles.keys().map(String::as_str)
    }
}

/// What the request needs from a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// The Chat body's length in bytes.
    pub body_len: usize,
    /// It offers tools.
    pub tools: bool,
    /// It sends images.
    pub images: bool,
    /// `direct.min_output_tokens`.
    pub min_output: u64,
    /// `direct.max_per_request_usd`.
    pub cap: Usdc,
}

/// One model the request may go to, and its plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    /// BlockRun's model id.
    pub model: String,
    /// The output budget sent as `max_tokens`.
    pub max_tokens: u64,
    /// The quote at that budget (what a payment for it should ask).
    pub quote: Option<Usdc>,
}

/// Why no candidate fits: each candidate with its reason.
#[derive(Debug, Clone, PartialEq)]
pub struct NoFit {
    /// The profile or model asked for.
    pub requested: String,
    /// Each candidate and why it does not fit.
    pub reasons: Vec<(String, Unfit)>,
}

impl std::fmt::Display for NoFit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no model for {} fits this request: ", self.requested)?;
        for (i, (model, why)) in self.reasons.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{model} {why}")?;
        }
        Ok(())
    }
}

/// The plan for a request: the cheapest fitting candidate first, then the others that fit.
/// `catalog` `None` (BlockRun's list unavailable): the candidates in their order, with
/// `min_output` tokens each (the 402's amount is still held to the cap).
pub fn plan(
    requested: &str,
    candidates: &[String],
    catalog: Option<&HashMap<String, ModelInfo>>,
    need: &Need,
) -> Result<Vec<Pick>, NoFit> {
    let Some(catalog) = catalog else {
        return Ok(candidates
            .iter()
            .map(|model| Pick {
                model: model.clone(),
                max_tokens: need.min_output,
                quote: None,
            })
            .collect());
    };
    let mut fitting = Vec::new();
    let mut reasons = Vec::new();
    for candidate in candidates {
        match fit(catalog.get(candidate), need) {
            Ok((max_tokens, quote, rank)) => fitting.push((
                rank,
                Pick {
                    model: candidate.clone(),
                    max_tokens,
                    quote: Some(quote),
                },
            )),
            Err(why) => reasons.push((candidate.clone(), why)),
        }
    }
    if fitting.is_empty() {
        return Err(NoFit {
            requested: requested.to_owned(),
            reasons,
        });
    }
    // Stable: equal prices keep the configured order.
    fitting.sort_by_key(|(rank, _)| *rank);
    Ok(fitting.into_iter().map(|(_, pick)| pick).collect())
}

/// The budget, its quote, and the rank (the quote at the common minimum output, so models
/// are compared for the same answer length).
fn fit(model: Option<&ModelInfo>, need: &Need) -> Result<(u64, Usdc, u64), Unfit> {
    let model = model.ok_or(Unfit::Unknown)?;
    if need.tools && !model.tools {
        return Err(Unfit::NoTools);
    }
    if need.images && !model.vision {
        return Err(Unfit::NoImages);
    }
    let max_tokens = pricing::output_budget(model, need.body_len, need.cap, need.min_output)?;
    let quote = pricing::quote(model, need.body_len, max_tokens);
    let rank = pricing::quote(model, need.body_len, need.min_output).0;
    Ok((max_tokens, quote, rank))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(
        id: &str,
        input: f64,
        output: f64,
        context: u64,
        tools: bool,
        vision: bool,
    ) -> ModelInfo {
        ModelInfo {
            id: id.into(),
            input_price: input,
            output_price: output,
            flat_price: None,
            context_window: Some(context),
            max_output: Some(32_000),
            tools,
            vision,
        }
    }

    fn catalog() -> HashMap<String, ModelInfo> {
        [
            model("cheap/text", 0.1, 0.2, 1_000_000, false, false),
            model("cheap/small", 0.2, 0.4, 16_000, true, false),
            model("mid/vision", 1.0, 4.0, 256_000, true, true),
            model("dear/all", 3.0, 15.0, 1_000_000, true, true),
        ]
        .into_iter()
        .map(|m| (m.id.clone(), m))
        .collect()
    }

    fn candidates() -> Vec<String> {
        [
            "dear/all",
            "mid/vision",
            "cheap/small",
            "cheap/text",
            "gone/model",
        ]
        .map(String::from)
        .to_vec()
    }

    fn need(body_len: usize, tools: bool, images: bool) -> Need {
        Need {
            body_len,
            tools,
            images,
            min_output: 4096,
            cap: Usdc(500_000),
        }
    }

    #[test]
    fn the_cheapest_candidate_that_fits_comes_first_the_rest_follow_by_price() {
        let catalog = catalog();
        let picks = plan(
            "blockrun/auto",
            &candidates(),
            Some(&catalog),
            &need(4000, true, false),
        )
        .unwrap();
        let order: Vec<&str> = picks.iter().map(|p| p.model.as_str()).collect();
        assert_eq!(order, ["cheap/small", "mid/vision", "dear/all"]);
        // A long conversation no longer fits the small context.
        let picks = plan(
            "blockrun/auto",
            &candidates(),
            Some(&catalog),
            &need(200_000, true, false),
        )
        .unwrap();
        assert_eq!(picks[0].model, "mid/vision");
        // Images need vision.
        let picks = plan(
            "blockrun/auto",
            &candidates(),
            Some(&catalog),
            &need(4000, true, true),
        )
        .unwrap();
        assert_eq!(picks[0].model, "mid/vision");
        // Without tools, the text-only model is the cheapest.
        let picks = plan(
            "blockrun/auto",
            &candidates(),
            Some(&catalog),
            &need(4000, false, false),
        )
        .unwrap();
        assert_eq!(picks[0].model, "cheap/text");
        for pick in &picks {
            assert!(pick.quote.unwrap().0 <= 500_000, "{pick:?}");
        }
    }

    #[test]
    fn when_nothing_fits_each_candidate_says_why() {
        let catalog = catalog();
        let mut tight = need(400_000, true, true);
        tight.cap = Usdc(20_000);
        let e = plan("blockrun/premium", &candidates(), Some(&catalog), &tight).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("no model for blockrun/premium fits this request"),
            "{text}"
        );
        assert!(text.contains("dear/all would cost at least"), "{text}");
        assert!(text.contains("cheap/small it takes no images"), "{text}");
        assert!(text.contains("cheap/text it takes no tools"), "{text}");
        assert!(
            text.contains("gone/model BlockRun's catalog does not list it"),
            "{text}"
        );
    }

    #[test]
    fn the_built_in_profiles_parse_and_are_found_with_or_without_the_prefix() {
        let profiles = Profiles::builtin();
        assert_eq!(
            profiles.names().collect::<Vec<_>>(),
            ["auto", "eco", "premium"]
        );
        assert!(profiles.profile("blockrun/auto").is_some());
        assert!(profiles.profile("eco").is_some());
        assert!(profiles.profile("anthropic/claude-sonnet-4.6").is_none());
        assert!(Profiles::parse("profiles:\n  auto: []\n").is_err());
        assert!(Profiles::parse("profiles:\n  auto: [a]\nextra: 1\n").is_err());
    }
}
