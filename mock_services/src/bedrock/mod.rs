//! Mock Bedrock Runtime (placeholder while the handlers are being written).
use std::sync::Arc;

use axum::Router;

use crate::server::MockState;

/// The Bedrock routes.
pub fn router() -> Router<Arc<MockState>> {
    Router::new()
}
