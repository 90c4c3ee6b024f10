//! Argon2id hashing off the async executor, bounded by a semaphore sized to the cores, behind a trait so
//! tests can count verifications (exactly one on every login path).

use std::sync::Arc;

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version,
};
use tenantry_settings::Argon2Params;
use tokio::sync::Semaphore;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("argon2 parameters are invalid: {0}")]
    Params(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("hashing task failed: {0}")]
    Task(String),
}

/// The CPU-bound part; called on the blocking pool.
pub trait PasswordHasher: Send + Sync {
    fn hash(&self, password: &str) -> Result<String, PasswordError>;
    /// `false` for a wrong password or an unparsable stored hash.
    fn verify(&self, password: &str, phc: &str) -> bool;
    /// Whether a stored hash was made with other parameters than the configured ones.
    fn needs_rehash(&self, phc: &str) -> bool;
}

pub struct Argon2Hasher {
    params: Params,
}

impl Argon2Hasher {
    pub fn new(p: &Argon2Params) -> Result<Self, PasswordError> {
        let params = Params::new(p.memory_kib, p.iterations, p.parallelism, None)
            .map_err(|e| PasswordError::Params(e.to_string()))?;
        Ok(Self { params })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }
}

impl PasswordHasher for Argon2Hasher {
    fn hash(&self, password: &str) -> Result<String, PasswordError> {
        self.argon2()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| PasswordError::Hash(e.to_string()))
    }

    fn verify(&self, password: &str, phc: &str) -> bool {
        self.argon2()
            .verify_password(password.as_bytes(), phc)
            .is_ok()
    }

    fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(hash) = PasswordHash::new(phc) else {
            return true;
        };
        let Ok(stored) = Params::try_from(&hash) else {
            return true;
        };
        hash.algorithm != argon2::ARGON2ID_IDENT
            || stored.m_cost() != self.params.m_cost()
            || stored.t_cost() != self.params.t_cost()
            || stored.p_cost() != self.params.p_cost()
    }
}

/// Async front of a [`PasswordHasher`]: at most one hash per core at a time, never on the executor.
#[derive(Clone)]
pub struct Passwords {
    hasher: Arc<dyn PasswordHasher>,
    permits: Arc<Semaphore>,
    /// Verified against when an account is unknown, so every path costs one verification.
    dummy_hash: Arc<str>,
}

impl Passwords {
    pub fn new(hasher: Arc<dyn PasswordHasher>) -> Result<Self, PasswordError> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let dummy_hash = hasher.hash("dummy-password-for-unknown-accounts")?;
        Ok(Self {
            hasher,
            permits: Arc::new(Semaphore::new(cores)),
            dummy_hash: dummy_hash.into(),
        })
    }

    pub fn from_params(p: &Argon2Params) -> Result<Self, PasswordError> {
        Self::new(Arc::new(Argon2Hasher::new(p)?))
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn PasswordHasher) -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let _permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| PasswordError::Task(e.to_string()))?;
        let hasher = self.hasher.clone();
        tokio::task::spawn_blocking(move || f(hasher.as_ref()))
            .await
            .map_err(|e| PasswordError::Task(e.to_string()))
    }

    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        self.blocking(move |h| h.hash(&password)).await?
    }

    /// Verifies against `phc`, or against the dummy hash when there is no account (same cost either way).
    pub async fn verify(
        &self,
        password: String,
        phc: Option<String>,
    ) -> Result<bool, PasswordError> {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.dummy_hash.to_string());
        let ok = self.blocking(move |h| h.verify(&password, &phc)).await?;
        Ok(ok && known)
    }

    pub fn needs_rehash(&self, phc: &str) -> bool {
        self.hasher.needs_rehash(phc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Argon2Params {
        Argon2Params {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[tokio::test]
    async fn hashes_verify_and_detect_parameter_changes() {
        let p = Passwords::from_params(&cheap()).unwrap();
        let phc = p.hash("correct horse battery staple".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(
            p.verify("correct horse battery staple".into(), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(!p.verify("wrong".into(), Some(phc.clone())).await.unwrap());
        assert!(!p.verify("anything".into(), None).await.unwrap());
        assert!(!p.needs_rehash(&phc));
        let stronger = Passwords::from_params(&Argon2Params {
            memory_kib: 128,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap();
        assert!(stronger.needs_rehash(&phc));
        assert!(stronger.needs_rehash("not a phc string"));
    }
}
