//! Spec errors: each names the item and its line in the spec file.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub line: usize,
    /// The hook point or variable concerned, e.g. `variable KEA_QUERY4_TYPE`.
    pub item: String,
    pub message: String,
}

/// Every error found in one pass over the spec.
#[derive(Debug)]
pub struct Errors {
    pub path: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.diagnostics {
            writeln!(f, "{}:{}: {}: {}", self.path, d.line, d.item, d.message)?;
        }
        write!(f, "{} error(s) in {}", self.diagnostics.len(), self.path)
    }
}

impl std::error::Error for Errors {}

/// Maps byte offsets of the spec text to 1-based line numbers.
pub struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines { starts }
    }

    pub fn line(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }
}
