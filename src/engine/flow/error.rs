//! [`FlowError`]: one problem of a flow file, with its `file:line`, as the loader, the checker and the
//! lock report it.

/// One problem in a flow file, displayed as `flows/booking.toml:42: <message>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", located(file, *line))]
pub struct FlowError {
    /// The file as given to the loader (`flows/booking.toml`).
    pub file: String,
    /// The 1-based line, when the problem has one.
    pub line: Option<usize>,
    /// What is wrong, and where possible how to fix it.
    pub message: String,
}

impl FlowError {
    /// A problem at a line of `file`.
    pub fn at(file: &str, line: usize, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line: Some(line),
            message: message.into(),
        }
    }

    /// A problem with `file` as a whole.
    pub fn whole(file: &str, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line: None,
            message: message.into(),
        }
    }
}

fn located(file: &str, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{file}:{line}"),
        None => file.to_owned(),
    }
}
