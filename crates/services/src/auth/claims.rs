//! JWT encoding and decoding: HS256 only, the configured issuer, no leeway.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use tenantry_settings::Settings;
use uuid::Uuid;

/// Claims as found in a token: every member optional, so each missing one maps to its own 401.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct AccessClaims {
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(rename = "type")]
    pub token_type: Option<String>,
    pub jti: Option<String>,
    pub iat: u64,
    pub exp: u64,
    pub iss: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assumed_identity: Option<AssumedIdentity>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct AssumedIdentity {
    pub operator_user_id: Option<String>,
    pub reason: Option<String>,
    pub started_at: Option<u64>,
}

#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    access_minutes: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("token keys: {0}")]
pub struct KeyError(String);

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl TokenKeys {
    pub fn from_settings(settings: &Settings) -> Result<Self, KeyError> {
        let secret = settings.jwt_secret_key.expose_secret().as_bytes();
        Ok(Self {
            encoding: EncodingKey::from_secret(secret).map_err(|e| KeyError(e.to_string()))?,
            decoding: DecodingKey::from_secret(secret).map_err(|e| KeyError(e.to_string()))?,
            issuer: settings.jwt_issuer.clone(),
            access_minutes: settings.access_token_expire_minutes,
        })
    }

    /// An access token for `user_id` in `tenant_id` (none for console sessions), bound to session `sid`.
    pub fn access_token(
        &self,
        user_id: Uuid,
        tenant_id: Option<Uuid>,
        sid: Uuid,
    ) -> Result<(String, u64), KeyError> {
        let iat = now();
        let ttl = u64::from(self.access_minutes) * 60;
        let claims = AccessClaims {
            sub: Some(user_id.to_string()),
            tenant_id: tenant_id.map(|t| t.to_string()),
            sid: Some(sid.to_string()),
            token_type: Some("access".to_owned()),
            jti: Some(Uuid::now_v7().to_string()),
            iat,
            exp: iat + ttl,
            iss: self.issuer.clone(),
            assumed_identity: None,
        };
        let token = self.sign(&claims)?;
        Ok((token, ttl))
    }

    pub fn sign(&self, claims: &AccessClaims) -> Result<String, KeyError> {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| KeyError(e.to_string()))
    }

    /// Signature, algorithm, issuer and expiry; everything else is checked by the caller.
    pub fn decode(&self, token: &str) -> Option<AccessClaims> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        v.set_issuer(&[self.issuer.as_str()]);
        v.set_required_spec_claims(&["exp", "iss"]);
        decode::<AccessClaims>(token, &self.decoding, &v)
            .ok()
            .map(|d| d.claims)
    }
}
