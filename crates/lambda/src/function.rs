//! Which part of the API each Lambda function serves.
//!
//! The split follows what a function may do to the store, so that each gets the least IAM
//! privilege: `ingest` writes (PutLogs, and the project and logstore calls, which create and
//! delete), `pull` only reads (shard listing, cursors, PullLogs). API Gateway routes by method and
//! path (`template.yaml`); the API checks again by call, so a request that reaches the wrong
//! function is `404 RequestNotSupported`, never served with the wrong rights.

use std::fmt;
use std::str::FromStr;

use logport_api::route::RouteGroup;

/// A Logport Lambda function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// PutLogs, and projects and logstores: create, get, update, delete, list.
    Ingest,
    /// Shard listing, cursors (`type=cursor`, `type=cursor_time`) and PullLogs.
    Pull,
    /// Every call (the query calls too). Not a deployed function: the local adapter's default.
    All,
}

impl Function {
    /// The groups of calls the function answers.
    pub fn groups(self) -> &'static [RouteGroup] {
        match self {
            Self::Ingest => &[RouteGroup::Admin, RouteGroup::Write],
            Self::Pull => &[RouteGroup::Read],
            Self::All => RouteGroup::ALL,
        }
    }

    /// The function's name, as in `template.yaml` and `--function`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ingest => "ingest",
            Self::Pull => "pull",
            Self::All => "all",
        }
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Function {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "ingest" => Ok(Self::Ingest),
            "pull" => Ok(Self::Pull),
            "all" => Ok(Self::All),
            other => Err(format!("unknown function '{other}' (ingest, pull, all)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deployed_functions_split_the_groups_between_them() {
        for group in RouteGroup::ALL {
            let serving: Vec<Function> =
                [Function::Ingest, Function::Pull].into_iter().filter(|f| f.groups().contains(group)).collect();
            // The query function comes with the query issue; until then query calls are 404.
            let expected = if *group == RouteGroup::Query { 0 } else { 1 };
            assert_eq!(serving.len(), expected, "{group:?} is served by {serving:?}");
        }
        for function in [Function::Ingest, Function::Pull, Function::All] {
            assert_eq!(function.name().parse::<Function>().unwrap(), function);
        }
        assert!("query".parse::<Function>().is_err());
    }
}
