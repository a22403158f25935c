//! HTTP basic auth against bcrypt hashes.
//!
//! bcrypt is slow by design (about 50-100 ms at cost 10), so a successful
//! verification is remembered: per user, an HMAC (with a random key made at
//! start) of the user and password. A later request with the same
//! credentials is checked against that tag in constant time, without
//! bcrypt. Nothing secret is kept in the clear. Unknown users are checked
//! against a dummy hash so that timing does not tell which users exist, and
//! at most two bcrypt runs happen at once so that a flood of wrong
//! passwords cannot take every core.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use base64::Engine;
use ring::hmac;
use tokio::sync::Semaphore;

/// The realm sent in `WWW-Authenticate`.
pub const CHALLENGE: &str = "Basic realm=\"clockwatch\"";

#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error("cannot initialise basic auth: {0}")]
    Init(String),
}

pub struct BasicAuth {
    users: BTreeMap<String, String>,
    key: hmac::Key,
    /// user -> HMAC tag of the last credentials that bcrypt accepted.
    verified: Mutex<HashMap<String, hmac::Tag>>,
    dummy_hash: String,
    bcrypt_slots: Arc<Semaphore>,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth")
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl BasicAuth {
    /// `users`: user -> bcrypt hash, already validated by the web config.
    pub fn new(users: BTreeMap<String, String>) -> Result<Self, AuthSetupError> {
        let rng = ring::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .map_err(|_| AuthSetupError::Init("no randomness for the HMAC key".into()))?;
        // Same cost as the configured hashes, so unknown users take as long.
        let cost = users
            .values()
            .filter_map(|h| h.parse::<bcrypt::HashParts>().ok())
            .map(|p| p.get_cost())
            .max()
            .unwrap_or(bcrypt::DEFAULT_COST);
        let dummy_hash = bcrypt::hash(b"clockwatch-dummy", cost)
            .map_err(|e| AuthSetupError::Init(e.to_string()))?;
        Ok(Self {
            users,
            key,
            verified: Mutex::new(HashMap::new()),
            dummy_hash,
            bcrypt_slots: Arc::new(Semaphore::new(2)),
        })
    }

    fn tag_input(user: &str, password: &[u8]) -> Vec<u8> {
        let mut msg = Vec::with_capacity(user.len() + 1 + password.len());
        msg.extend_from_slice(user.as_bytes());
        msg.push(0);
        msg.extend_from_slice(password);
        msg
    }

    /// True if the header carries credentials that bcrypt accepted before:
    /// the remembered HMAC only, never bcrypt. For the open probes, whose
    /// answer says more to a client that has authenticated, and which must
    /// stay cheap whatever header a caller sends.
    pub fn check_remembered(&self, authorization: Option<&[u8]>) -> bool {
        let Some((user, password)) = authorization.and_then(parse_basic) else {
            return false;
        };
        self.remembered(&user, &Self::tag_input(&user, &password))
    }

    fn remembered(&self, user: &str, msg: &[u8]) -> bool {
        let cache = match self.verified.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        cache
            .get(user)
            .is_some_and(|tag| hmac::verify(&self.key, msg, tag.as_ref()).is_ok())
    }

    /// True if the `Authorization` header value carries valid credentials.
    pub async fn check(&self, authorization: Option<&[u8]>) -> bool {
        let Some((user, password)) = authorization.and_then(parse_basic) else {
            return false;
        };
        let msg = Self::tag_input(&user, &password);
        if self.remembered(&user, &msg) {
            return true;
        }
        let known = self.users.get(&user);
        let hash = known.cloned().unwrap_or_else(|| self.dummy_hash.clone());
        let Ok(_slot) = self.bcrypt_slots.clone().acquire_owned().await else {
            return false;
        };
        let pw = password.clone();
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(&pw, &hash).unwrap_or(false))
            .await
            .unwrap_or(false);
        if ok && known.is_some() {
            let tag = hmac::sign(&self.key, &msg);
            let mut cache = match self.verified.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            cache.insert(user, tag);
            return true;
        }
        false
    }
}

/// `Basic base64(user:password)` -> (user, password).
fn parse_basic(value: &[u8]) -> Option<(String, Vec<u8>)> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let user = String::from_utf8(decoded[..colon].to_vec()).ok()?;
    Some((user, decoded[colon + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, pw: &str) -> Vec<u8> {
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"));
        format!("Basic {b}").into_bytes()
    }

    #[tokio::test]
    async fn accepts_refuses_and_caches() {
        let mut users = BTreeMap::new();
        users.insert("prom".to_string(), bcrypt::hash("s3cret", 4).expect("hash"));
        let auth = BasicAuth::new(users).expect("auth");
        assert!(!auth.check(None).await);
        assert!(!auth.check(Some(b"Bearer x")).await);
        assert!(!auth.check(Some(b"Basic !!!")).await);
        assert!(!auth.check(Some(&header("prom", "wrong"))).await);
        assert!(!auth.check(Some(&header("nobody", "s3cret"))).await);
        assert!(auth.verified.lock().expect("lock").is_empty());
        assert!(auth.check(Some(&header("prom", "s3cret"))).await);
        assert_eq!(auth.verified.lock().expect("lock").len(), 1);
        // Cached: still right, and a wrong password is still refused.
        assert!(auth.check(Some(&header("prom", "s3cret"))).await);
        assert!(!auth.check(Some(&header("prom", "s3cret2"))).await);
        assert!(auth.check(Some(b"basic cHJvbTpzM2NyZXQ=")).await);
    }

    #[tokio::test]
    async fn remembered_credentials_never_run_bcrypt() {
        let mut users = BTreeMap::new();
        users.insert("prom".to_string(), bcrypt::hash("s3cret", 4).expect("hash"));
        let auth = BasicAuth::new(users).expect("auth");
        // Right password, but never verified: not remembered, and checking
        // it did not verify it either (nothing is cached).
        assert!(!auth.check_remembered(Some(&header("prom", "s3cret"))));
        assert!(auth.verified.lock().expect("lock").is_empty());
        assert!(auth.check(Some(&header("prom", "s3cret"))).await);
        assert!(auth.check_remembered(Some(&header("prom", "s3cret"))));
        assert!(!auth.check_remembered(Some(&header("prom", "wrong"))));
        assert!(!auth.check_remembered(None));
    }
}
