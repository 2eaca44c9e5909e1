use super::*;
use k256::ecdsa::{RecoveryId, VerifyingKey};

/// Hardhat's first account: a published key and address.
pub(crate) const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

fn authorization() -> Authorization {
    Authorization {
        from: parse_address(ADDRESS).unwrap(),
        to: [0x11; 20],
        value: 1000,
        valid_after: 1_700_000_000,
        valid_before: 1_700_000_900,
        nonce: [0x42; 32],
    }
}

fn recover(digest: &[u8; 32], signature: &Signature) -> String {
    let sig = k256::ecdsa::Signature::from_slice(&signature.0[..64]).unwrap();
    let recovery = RecoveryId::from_byte(signature.0[64] - 27).unwrap();
    let key = VerifyingKey::recover_from_prehash(digest, &sig, recovery).unwrap();
    let point = key.to_encoded_point(false);
    let hash = keccak256(&point.as_bytes()[1..]);
    crate::admin::wallet::to_checksum_address(&hash[12..])
}

#[test]
fn type_hashes_are_the_published_ones() {
    // USDC's FiatTokenV2 TRANSFER_WITH_AUTHORIZATION_TYPEHASH and EIP-712's domain type hash.
    assert_eq!(
        hex(&keccak256(TRANSFER_TYPE.as_bytes())),
        "0x7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267"
    );
    assert_eq!(
        hex(&keccak256(DOMAIN_TYPE.as_bytes())),
        "0x8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f"
    );
}

#[test]
fn the_signature_recovers_our_address() {
    let key = SecretKey::parse(KEY).unwrap();
    assert_eq!(
        crate::admin::wallet::address_from_key(&key).unwrap(),
        ADDRESS
    );
    let auth = authorization();
    let signature = auth.sign(&key).unwrap();
    assert!(matches!(signature.0[64], 27 | 28));
    assert_eq!(recover(&auth.digest(), &signature), ADDRESS);
    // RFC 6979: the same authorization signs the same.
    assert_eq!(auth.sign(&key).unwrap(), signature);
    // Another value is another digest: the signature does not recover us for it.
    let changed = Authorization {
        value: 1001,
        ..authorization()
    };
    assert_ne!(changed.digest(), auth.digest());
    assert_ne!(recover(&changed.digest(), &signature), ADDRESS);
}

#[test]
fn every_field_is_in_the_digest() {
    let base = authorization().digest();
    let variants = [
        Authorization {
            from: [1; 20],
            ..authorization()
        },
        Authorization {
            to: [2; 20],
            ..authorization()
        },
        Authorization {
            value: 7,
            ..authorization()
        },
        Authorization {
            valid_after: 1,
            ..authorization()
        },
        Authorization {
            valid_before: 1,
            ..authorization()
        },
        Authorization {
            nonce: [9; 32],
            ..authorization()
        },
    ];
    for v in variants {
        assert_ne!(v.digest(), base, "{v:?}");
    }
}

#[test]
fn addresses_and_nonces() {
    assert_eq!(parse_address(ADDRESS).map(|a| a[0]), Some(0xf3));
    for bad in [
        "",
        "0x",
        "f39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "0xg39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb922",
    ] {
        assert_eq!(parse_address(bad), None, "{bad}");
    }
    let (a, b) = (random_nonce().unwrap(), random_nonce().unwrap());
    assert_ne!(a, b);
    assert_eq!(hex(&a).len(), 66);
}
