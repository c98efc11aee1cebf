//! Bearer tokens: compared as SHA-256 digests, in constant time, against every configured
//! token (no early exit, so timing does not reveal which token almost matched).

use axum::http::{HeaderMap, StatusCode};
use sha2::{Digest, Sha256};

use super::ApiError;
use crate::config::{Role, TokenConfig};

/// Check the `Authorization` header: 401 when missing, malformed or unknown; 403 when the
/// token's role is not enough. Admin may do everything an analyst may.
pub(super) fn authorize(
    tokens: &[TokenConfig],
    headers: &HeaderMap,
    needed: Role,
) -> Result<(), ApiError> {
    let unauthorized = |why: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", why);
    let header = headers.get("authorization").ok_or_else(|| {
        unauthorized("missing Authorization header; send `Authorization: Bearer <token>`")
    })?;
    let header = header
        .to_str()
        .map_err(|_| unauthorized("malformed Authorization header"))?;
    let token = match header.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            token.trim()
        }
        _ => {
            return Err(unauthorized(
                "malformed Authorization header; expected `Bearer <token>`",
            ));
        }
    };
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let mut role = None;
    for t in tokens {
        // Every stored token is compared, whatever matched before.
        let matched =
            decode_hex(&t.sha256).is_some_and(|stored| constant_time_eq(&stored, &digest));
        if matched {
            role = Some(t.role);
        }
    }
    match role {
        None => Err(unauthorized("unknown token")),
        Some(Role::Analyst) if needed == Role::Admin => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this endpoint needs an admin token (BigQuery queries cost money)",
        )),
        Some(_) => Ok(()),
    }
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn decode_hex(s: &str) -> Option<[u8; 32]> {
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let text = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}
