//! Argon2id hashing off the async executor, bounded by a semaphore sized to the cores, behind a trait so
//! tests can count verifications (exactly one on every login path).

use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
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

/// Argon2id over reused memory. Each hash needs `m` KiB of blocks (19 MiB by default); allocating them per
/// call makes glibc keep the freed blocks of every blocking thread's arena resident (the login benchmark saw
/// the API grow past 700 MiB). At most one buffer per concurrent hash is kept instead, and
/// [`Passwords`] bounds the concurrency to the cores.
pub struct Argon2Hasher {
    params: Params,
    spare: Mutex<Vec<Vec<Block>>>,
}

impl Argon2Hasher {
    pub fn new(p: &Argon2Params) -> Result<Self, PasswordError> {
        let params = Params::new(p.memory_kib, p.iterations, p.parallelism, None)
            .map_err(|e| PasswordError::Params(e.to_string()))?;
        Ok(Self {
            params,
            spare: Mutex::new(Vec::new()),
        })
    }

    /// Runs Argon2 into `out` with a buffer from the spare list (grown if these parameters need more).
    fn compute(
        &self,
        argon2: &Argon2<'_>,
        params: &Params,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), argon2::Error> {
        let needed = params.block_count();
        let mut blocks = self
            .spare
            .lock()
            .ok()
            .and_then(|mut spare| spare.pop())
            .unwrap_or_default();
        if blocks.len() < needed {
            blocks.resize(needed, Block::default());
        }
        let result =
            argon2.hash_password_into_with_memory(password, salt, out, &mut blocks[..needed]);
        if let Ok(mut spare) = self.spare.lock() {
            spare.push(blocks);
        }
        result
    }
}

impl PasswordHasher for Argon2Hasher {
    fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let err = |e: &dyn std::fmt::Display| PasswordError::Hash(e.to_string());
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone());
        let salt = Salt::generate();
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        self.compute(
            &argon2,
            &self.params,
            password.as_bytes(),
            salt.as_ref(),
            &mut out,
        )
        .map_err(|e| err(&e))?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).map_err(|e| err(&e))?,
            salt: Some(salt),
            hash: Some(Output::new(&out).map_err(|e| err(&e))?),
        };
        Ok(phc.to_string())
    }

    fn verify(&self, password: &str, phc: &str) -> bool {
        let Ok(stored) = PasswordHash::new(phc) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
            return false;
        };
        let (Ok(algorithm), Ok(params)) = (
            Algorithm::try_from(stored.algorithm.as_str()),
            Params::try_from(&stored),
        ) else {
            return false;
        };
        let version = match stored.version.map(Version::try_from) {
            None => Version::default(),
            Some(Ok(v)) => v,
            Some(Err(_)) => return false,
        };
        let mut out = vec![0u8; expected.len()];
        let argon2 = Argon2::new(algorithm, version, params.clone());
        if self
            .compute(
                &argon2,
                &params,
                password.as_bytes(),
                salt.as_ref(),
                &mut out,
            )
            .is_err()
        {
            return false;
        }
        // `Output`'s equality is constant-time.
        Output::new(&out).is_ok_and(|computed| &computed == expected)
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

    #[test]
    fn pooled_hashes_agree_with_the_argon2_crate_both_ways() {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        let ours = Argon2Hasher::new(&cheap()).unwrap();
        let theirs = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        );
        let phc = ours.hash("correct horse").unwrap();
        assert!(
            theirs
                .verify_password(b"correct horse", phc.as_str())
                .is_ok()
        );
        assert!(
            theirs
                .verify_password(b"correct horsf", phc.as_str())
                .is_err()
        );
        let lib = theirs.hash_password(b"correct horse").unwrap().to_string();
        assert!(ours.verify("correct horse", &lib));
        assert!(!ours.verify("correct horsf", &lib));
        // Other parameters than the configured ones (a stored hash from before a change) still verify.
        let bigger = Argon2Hasher::new(&Argon2Params {
            memory_kib: 256,
            iterations: 2,
            parallelism: 2,
        })
        .unwrap()
        .hash("correct horse")
        .unwrap();
        assert!(ours.verify("correct horse", &bigger));
        assert!(!ours.verify("correct horse", "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$"));
        assert!(!ours.verify("correct horse", "not a phc string"));
    }

    #[test]
    fn memory_is_reused_rather_than_allocated_per_hash() {
        let ours = Argon2Hasher::new(&cheap()).unwrap();
        for _ in 0..5 {
            ours.hash("correct horse").unwrap();
        }
        let spare = ours.spare.lock().unwrap();
        assert_eq!(spare.len(), 1, "sequential hashes share one buffer");
        assert_eq!(spare[0].len(), 64, "64 KiB = 64 blocks of 1 KiB");
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
