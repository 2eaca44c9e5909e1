//! Which address to fund, and on which chain: the one rule every surface uses (`wallet`,
//! `doctor`, the dashboard, the 402 help text).
//!
//! Since v0.12.246 ClawRouter may pay on Solana. Its `/health` then reports
//! `{"wallet":"0x<EVM>","paymentChain":"solana","solana":"<base58>"}`: `wallet` is always the
//! EVM address, and the address it actually pays from is `solana` when `paymentChain` is
//! `solana`, else `wallet` (`paymentChain` absent means Base). [`ProxyHealth::funding`] applies
//! that rule; nothing else picks an address from these fields. A proxy that says it pays on
//! Solana without a Solana address, or names a chain this bridge does not know, gets no
//! address at all rather than one that would never be spent.

use std::fmt;

/// A chain ClawRouter pays USDC on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chain {
    /// Base (an EVM chain): the `0x` address of `wallet.key`.
    Base,
    /// Solana: the base58 address derived from the `mnemonic`.
    Solana,
}

impl Chain {
    /// `base` or `solana`, any case, surrounding whitespace ignored; else `None`.
    pub fn parse(text: &str) -> Option<Chain> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("base") {
            Some(Chain::Base)
        } else if text.eq_ignore_ascii_case("solana") {
            Some(Chain::Solana)
        } else {
            None
        }
    }

    /// The name people read: `Base`, `Solana`.
    pub fn name(self) -> &'static str {
        match self {
            Chain::Base => "Base",
            Chain::Solana => "Solana",
        }
    }

    /// What to send: `USDC on Base`, `USDC on Solana`.
    pub fn usdc(self) -> &'static str {
        match self {
            Chain::Base => "USDC on Base",
            Chain::Solana => "USDC on Solana",
        }
    }

    /// The chain a text names, when it names exactly one (`"… with USDC on Solana"`); for
    /// upstream error bodies.
    pub fn named_in(text: &str) -> Option<Chain> {
        let lower = text.to_ascii_lowercase();
        let solana = lower.contains("solana");
        let base = lower
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w == "base");
        match (base, solana) {
            (true, false) => Some(Chain::Base),
            (false, true) => Some(Chain::Solana),
            _ => None,
        }
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where to send USDC so that ClawRouter can pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Funding {
    /// The chain ClawRouter pays on.
    pub chain: Chain,
    /// The address it pays from on that chain (`0x…` on Base, base58 on Solana).
    pub address: String,
}

/// The wallet fields of ClawRouter's `GET /health` (`?full=true` adds the balance).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProxyHealth {
    /// `wallet`: the EVM address (always; the one paid from only on Base).
    pub wallet: Option<String>,
    /// `paymentChain`: the chain it pays on (`base`, `solana`; absent: Base).
    pub payment_chain: Option<String>,
    /// `solana`: the Solana address (present when ClawRouter has a mnemonic).
    pub solana: Option<String>,
    /// `balance`: USDC, as the proxy formats it.
    pub balance: Option<String>,
    /// `isLow`: under $1.
    pub is_low: Option<bool>,
    /// `isEmpty`: nothing left to pay with.
    pub is_empty: Option<bool>,
    /// `balanceError`: why the proxy could not read the balance.
    pub balance_error: Option<String>,
}

impl ProxyHealth {
    /// Reads the fields from the JSON body (unknown or missing fields are fine).
    pub fn from_json(body: &str) -> Option<ProxyHealth> {
        Self::from_value(&serde_json::from_str(body).ok()?)
    }

    /// Reads the fields from an already parsed body; `None` when it is not a JSON object.
    pub fn from_value(value: &serde_json::Value) -> Option<ProxyHealth> {
        let obj = value.as_object()?;
        let text = |k: &str| match obj.get(k) {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let flag = |k: &str| obj.get(k).and_then(|v| v.as_bool());
        Some(ProxyHealth {
            wallet: text("wallet"),
            payment_chain: text("paymentChain"),
            solana: text("solana"),
            balance: text("balance"),
            is_low: flag("isLow"),
            is_empty: flag("isEmpty"),
            balance_error: text("balanceError"),
        })
    }

    /// The chain it pays on: `paymentChain`, Base when absent; `None` for a chain this bridge
    /// does not know.
    pub fn chain(&self) -> Option<Chain> {
        match &self.payment_chain {
            None => Some(Chain::Base),
            Some(chain) => Chain::parse(chain),
        }
    }

    /// The address to fund and its chain: `solana` when it pays on Solana, else `wallet`
    /// (see the module docs). `None` when that address is missing or the chain unknown.
    pub fn funding(&self) -> Option<Funding> {
        let chain = self.chain()?;
        let address = match chain {
            Chain::Base => self.wallet.as_ref(),
            Chain::Solana => self.solana.as_ref(),
        }
        .filter(|a| !a.trim().is_empty())?;
        Some(Funding {
            chain,
            address: address.trim().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVM: &str = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";
    const SOL: &str = "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk";

    fn health(body: &str) -> ProxyHealth {
        ProxyHealth::from_json(body).unwrap()
    }

    #[test]
    fn a_proxy_paying_on_solana_is_funded_at_its_solana_address() {
        let h = health(&format!(
            r#"{{"status":"ok","wallet":"{EVM}","paymentChain":"solana","solana":"{SOL}"}}"#
        ));
        assert_eq!(h.solana.as_deref(), Some(SOL));
        assert_eq!(
            h.funding(),
            Some(Funding {
                chain: Chain::Solana,
                address: SOL.to_owned()
            })
        );
        assert_eq!(h.funding().unwrap().chain.usdc(), "USDC on Solana");
    }

    #[test]
    fn a_proxy_paying_on_base_is_funded_at_its_evm_address_even_with_a_solana_one() {
        for body in [
            format!(r#"{{"wallet":"{EVM}","paymentChain":"base","solana":"{SOL}"}}"#),
            format!(r#"{{"wallet":"{EVM}","paymentChain":"BASE"}}"#),
            // No paymentChain: ClawRouter before v0.12.246, which paid on Base only.
            format!(r#"{{"wallet":"{EVM}"}}"#),
        ] {
            let funding = health(&body).funding().unwrap();
            assert_eq!(funding.chain, Chain::Base, "{body}");
            assert_eq!(funding.address, EVM, "{body}");
        }
    }

    #[test]
    fn no_address_rather_than_one_that_is_never_spent() {
        // Solana without a Solana address: the EVM one would not be spent.
        assert_eq!(
            health(&format!(r#"{{"wallet":"{EVM}","paymentChain":"solana"}}"#)).funding(),
            None
        );
        assert_eq!(
            health(&format!(r#"{{"wallet":"{EVM}","paymentChain":"polygon"}}"#)).funding(),
            None
        );
        assert_eq!(health(r#"{"status":"ok"}"#).funding(), None);
        assert_eq!(ProxyHealth::from_json("[]"), None);
    }

    #[test]
    fn chains_named_in_error_texts() {
        assert_eq!(
            Chain::named_in("Fund wallet 0xab...c with USDC on Solana"),
            Some(Chain::Solana)
        );
        assert_eq!(
            Chain::named_in("Insufficient Base USDC balance."),
            Some(Chain::Base)
        );
        assert_eq!(Chain::named_in("Insufficient USDC balance"), None);
        assert_eq!(Chain::named_in("database error"), None);
        assert_eq!(Chain::named_in("Base or Solana"), None);
    }
}
