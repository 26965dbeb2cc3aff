//! Query errors, each a bad request except engine failures.

use logport_core::engine::EngineError;

use crate::search::SearchError;

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error("SQL error: {0}")]
    Sql(String),
    #[error("{0}")]
    Parameter(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("query execution failed: {0}")]
    Internal(String),
}

impl From<datafusion::error::DataFusionError> for QueryError {
    /// Planning and evaluation errors are the statement's fault (a 4xx); storage failures keep
    /// their engine error; only the engine's own trouble is internal.
    fn from(error: datafusion::error::DataFusionError) -> Self {
        use datafusion::error::DataFusionError as E;
        match error {
            E::External(inner) => match inner.downcast::<EngineError>() {
                Ok(engine) => Self::Engine(*engine),
                Err(other) => Self::Internal(other.to_string()),
            },
            E::Context(_, inner) | E::Diagnostic(_, inner) => Self::from(*inner),
            E::Internal(_) | E::IoError(_) | E::ResourcesExhausted(_) | E::ObjectStore(_) => {
                Self::Internal(error.to_string())
            }
            other => Self::Sql(other.to_string()),
        }
    }
}

/// Result of queries.
pub type Result<T, E = QueryError> = std::result::Result<T, E>;
