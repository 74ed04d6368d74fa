//! The throwaway secret key: random for every call, in a form that says what it is.

use dockyard_pipeline::run::throwaway_secret;

#[test]
fn throwaway_secrets_are_random_and_recognisable() {
    let secrets: Vec<String> = (0..4)
        .map(|_| throwaway_secret().expect("random bytes"))
        .collect();
    for secret in &secrets {
        let hex = secret
            .strip_prefix("dockyard-throwaway-")
            .unwrap_or_else(|| panic!("{secret} lacks the prefix"));
        assert_eq!(hex.len(), 64, "{secret}");
        assert!(hex.bytes().all(|byte| byte.is_ascii_hexdigit()), "{secret}");
    }
    let distinct: std::collections::BTreeSet<&String> = secrets.iter().collect();
    assert_eq!(distinct.len(), secrets.len(), "{secrets:?}");
}
