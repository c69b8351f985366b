//! Bearer-token authentication. The API takes no cookies, so a browser on
//! another site cannot ride a user's session: CSRF does not arise here.

use axum::extract::{FromRef, FromRequestParts, Query};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use shouwang_store::Principal;

use crate::{AppState, error::ApiError};

/// The authenticated caller.
pub struct Auth(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Auth
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        match state.store.principal_for_token(token.trim()).await? {
            Some(p) => Ok(Auth(p)),
            None => Err(ApiError::Unauthorized),
        }
    }
}

/// `Query<T>` whose rejection is our JSON 400 instead of axum's plain text.
pub struct Q<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Q<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state).await.map(|Query(t)| Q(t)).map_err(|e| ApiError::BadRequest(e.body_text()))
    }
}
