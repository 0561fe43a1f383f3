//! Errors as values. Every variant that comes from user data names the file and the line,
//! record or byte offset, because analysts fix their inputs from these messages.

use std::path::PathBuf;

/// Where in the input a problem sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: PathBuf,
    /// 1-based line number, when the input is line-oriented.
    pub line: Option<u64>,
    /// Byte offset into the file, when known.
    pub byte: Option<u64>,
}

impl Location {
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Location {
            path: path.into(),
            line: None,
            byte: None,
        }
    }
    pub fn line(path: impl Into<PathBuf>, line: u64) -> Self {
        Location {
            path: path.into(),
            line: Some(line),
            byte: None,
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(byte) = self.byte {
            write!(f, " (byte {byte})")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}: cannot read: {1}")]
    Io(PathBuf, #[source] std::io::Error),
    #[error("{loc}: invalid UTF-8 (use --lossy to replace bad bytes)")]
    Utf8 { loc: Location },
    #[error("{loc}: {msg}")]
    Data { loc: Location, msg: String },
    #[error("{0}")]
    Usage(String),
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, #[source] std::io::Error),
    #[error("{0}")]
    Other(String),
}

impl Error {
    pub fn data(loc: Location, msg: impl Into<String>) -> Self {
        Error::Data {
            loc,
            msg: msg.into(),
        }
    }
    /// Usage errors exit with 2, data and I/O errors with 1 (the CLI contract).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
