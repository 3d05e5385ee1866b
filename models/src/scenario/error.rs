//! What can be wrong with a scenario, said so that the user can fix it: the file and
//! line:column for syntax, unknown fields and wrong types (ron's span), or the field
//! path for invalid values, and in every case what was expected. None of these let a
//! run start: a scenario either loads whole or not at all.

use std::fmt;

/// An invalid value at a field path such as `cluster.shards` or
/// `variants[2].patch.clients.workload.ratio`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The same error one level further out (`prefix.path`).
    pub fn under(self, prefix: &str) -> FieldError {
        let path = if self.path.is_empty() {
            prefix.to_string()
        } else if self.path.starts_with('[') {
            format!("{prefix}{}", self.path)
        } else {
            format!("{prefix}.{}", self.path)
        };
        FieldError {
            path,
            message: self.message,
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("{path}: cannot read scenario file: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than any scenario needs; it was not read whole.
    #[error("{path}: a scenario file is at most {limit_bytes} bytes; this one is larger (is it a scenario?)")]
    TooLarge { path: String, limit_bytes: u64 },
    /// RON syntax, an unknown field or a wrong type, at a position in the file.
    #[error("{origin}:{line}:{column}: {message}")]
    Parse {
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// A value that parses but is not allowed, at a field path, and at the line and
    /// column where the file sets it (`None` when the value is a default).
    #[error("{}: {path}: {message}", at(origin, position))]
    Invalid {
        origin: String,
        path: String,
        message: String,
        position: Option<(usize, usize)>,
    },
}

/// `origin` or `origin:line:column`.
fn at(origin: &str, position: &Option<(usize, usize)>) -> String {
    match position {
        Some((line, column)) => format!("{origin}:{line}:{column}"),
        None => origin.to_string(),
    }
}

impl ScenarioError {
    /// An invalid value, located in `text` when the text sets it.
    pub(crate) fn invalid(origin: &str, text: &str, e: FieldError) -> ScenarioError {
        let position = super::locate::locate(text, &e.path);
        ScenarioError::Invalid {
            origin: origin.to_string(),
            path: e.path,
            message: e.message,
            position,
        }
    }
}
