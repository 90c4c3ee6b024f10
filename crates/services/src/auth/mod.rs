//! Bearer tokens (api.md §1): access tokens are HS256 JWTs bound to a session (`sid`) and a tenant;
//! every request re-checks the user and the session, so a revoked session stops working at once.

mod claims;
mod principal;

pub use claims::{AccessClaims, AssumedIdentity, TokenKeys};
pub use principal::{AuthFailure, Principal, TokenSubject, bearer_token, token_subject};
