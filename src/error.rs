//! The library's error type. Input errors (bad options, bad files) map to exit code 2 at the CLI,
//! runtime failures to 1.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An option or configuration field has a value rnnlab cannot use.
    #[error("invalid {field}: {message}")]
    InvalidOption { field: String, message: String },
    /// Arrays handed to the library disagree in shape.
    #[error("shape mismatch in {what}: expected {expected}, got {got}")]
    Shape {
        what: String,
        expected: String,
        got: String,
    },
    /// A file exists but its content is wrong.
    #[error("{}: {message}", path.display())]
    BadFile { path: PathBuf, message: String },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A loss or gradient became NaN or infinite.
    #[error("diverged: {what} is not finite")]
    Diverged { what: String },
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidOption {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn shape(
        what: impl Into<String>,
        expected: impl std::fmt::Debug,
        got: impl std::fmt::Debug,
    ) -> Self {
        Error::Shape {
            what: what.into(),
            expected: format!("{expected:?}"),
            got: format!("{got:?}"),
        }
    }

    pub fn bad_file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::BadFile {
            path: path.into(),
            message: message.into(),
        }
    }

    /// True for errors caused by what the user gave (exit code 2), false for runtime failures (1).
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            Error::InvalidOption { .. } | Error::Shape { .. } | Error::BadFile { .. }
        )
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
