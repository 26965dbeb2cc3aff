//! A function's context: built once at cold start, shared by every invocation of the process.

use std::sync::Arc;

use logport_api::route::RouteGroup;
use logport_api::{Api, ApiConfig};
use logport_core::engine::Engine;

use crate::function::Function;
use crate::settings::{Settings, SettingsError};
use crate::store::{StoreError, Stores};

/// Why a function could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the {0} function serves queries, but was built without logport-api's `query` feature")]
    NoQueries(Function),
}

/// What every invocation needs: the API, restricted to the function's part of it.
#[derive(Debug, Clone)]
pub struct Context {
    function: Function,
    engine: Arc<Engine>,
    api: Api,
}

impl Context {
    /// A context over the given stores.
    pub fn new(function: Function, settings: Settings, stores: Stores) -> Self {
        Self::with_groups(function, function.groups(), settings, stores)
    }

    /// A context that answers `groups` rather than the function's own: for runtimes that route
    /// by path alone (Spin's manifest), where one route carries calls of several groups.
    pub fn with_groups(function: Function, groups: &'static [RouteGroup], settings: Settings, stores: Stores) -> Self {
        tracing::info!(%function, store = %stores.description, settings = ?settings, "logport function starting");
        if groups.contains(&RouteGroup::Query) && !logport_api::SERVES_QUERIES {
            tracing::warn!(%function, "built without the query feature: query calls are answered 404");
        }
        if settings.credentials.is_none() {
            tracing::warn!("signature checks are OFF: anyone who reaches the endpoint can read and write");
        }
        let engine = Arc::new(Engine::new(stores.objects, stores.meta).with_limits(settings.limits));
        let config = ApiConfig {
            credentials: settings.credentials,
            server_names: settings.server_names,
            max_body_bytes: settings.max_body_bytes,
            groups,
        };
        Self { function, api: Api::new(engine.clone(), config), engine }
    }

    /// The shipper API served by `shipper` (built over [`Self::engine`]): what the shipper
    /// function's context needs; without it, shipper calls answer `404`.
    #[cfg(feature = "shipper")]
    pub fn with_shipper(mut self, shipper: Arc<logport_shipper::Shipper>) -> Self {
        self.api = self.api.with_shipper(shipper);
        self
    }

    /// The engine the API runs on.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    #[cfg(feature = "runtime")]
    /// The deployed function's context: settings and the S3 + DynamoDB store from the environment.
    pub async fn from_env(function: Function) -> Result<Self, ContextError> {
        if function.groups().contains(&RouteGroup::Query) && !logport_api::SERVES_QUERIES {
            return Err(ContextError::NoQueries(function));
        }
        let settings = Settings::from_env()?;
        let stores = crate::store::open_from_env().await?;
        Ok(Self::new(function, settings, stores))
    }

    pub fn function(&self) -> Function {
        self.function
    }

    pub fn api(&self) -> &Api {
        &self.api
    }
}
