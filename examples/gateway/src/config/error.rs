//! Config errors that name the file, the line and column, and the field path.

use std::fmt;
use std::ops::Range;

/// One problem in a config file.
///
/// Displays as `FILE:LINE:COL: PATH: MESSAGE`, for example
/// `gw.toml:14:19: connection[1].esp_proposals[0]: unknown keyword "aes999"`. Lines and columns
/// count from 1 (columns in characters); indices in the path count from 0. Errors that concern
/// the file as a whole (it cannot be read) have no position and display as `FILE: MESSAGE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, as named on the command line.
    pub file: String,
    /// 1-based line and column, if the error has a position.
    pub position: Option<(usize, usize)>,
    /// The field path, e.g. `connection[0].psk`; empty for syntax errors.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// Byte offset in the file, for ordering.
    pub offset: usize,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// All the problems found in a config file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The errors.
    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }

    /// Number of errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none (never, for a returned error).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ConfigErrors {
    /// One error per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Collects errors while walking a document, mapping byte offsets to lines and columns.
pub(crate) struct Diag<'a> {
    file: String,
    text: &'a str,
    line_starts: Vec<usize>,
    errors: Vec<ConfigError>,
}

impl<'a> Diag<'a> {
    pub(crate) fn new(file: &str, text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Diag { file: file.to_string(), text, line_starts, errors: Vec::new() }
    }

    /// 1-based line and character column of byte `offset`.
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line - 1];
        let col = self.text.get(start..offset).map_or(offset - start, |s| s.chars().count()) + 1;
        (line, col)
    }

    /// The source text of `span`, if it is in range.
    pub(crate) fn source(&self, span: &Range<usize>) -> Option<&'a str> {
        self.text.get(span.clone())
    }

    /// Record an error at byte `offset`.
    pub(crate) fn at(&mut self, offset: usize, path: impl Into<String>, message: impl Into<String>) {
        let position = Some(self.line_col(offset));
        self.errors.push(ConfigError {
            file: self.file.clone(),
            position,
            path: path.into(),
            message: message.into(),
            offset,
        });
    }

    /// Record an error at the start of `span`.
    pub(crate) fn span(&mut self, span: &Range<usize>, path: impl Into<String>, message: impl Into<String>) {
        self.at(span.start, path, message);
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// The errors in file order (stable for errors at the same offset).
    pub(crate) fn finish(mut self) -> Vec<ConfigError> {
        self.errors.sort_by_key(|e| e.offset);
        self.errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_lines_and_character_columns() {
        let d = Diag::new("f.toml", "ab\ncdé f\n\nx");
        assert_eq!(d.line_col(0), (1, 1));
        assert_eq!(d.line_col(2), (1, 3));
        assert_eq!(d.line_col(3), (2, 1));
        // 'é' is two bytes but one column.
        assert_eq!(d.line_col(8), (2, 5));
        assert_eq!(d.line_col(10), (3, 1));
        assert_eq!(d.line_col(11), (4, 1));
        assert_eq!(d.line_col(999), (4, 2));
    }

    #[test]
    fn display_forms() {
        let e = ConfigError {
            file: "gw.toml".into(),
            position: Some((14, 9)),
            path: "connection[1].esp_proposals[0]".into(),
            message: "unknown keyword \"aes999\"".into(),
            offset: 0,
        };
        assert_eq!(e.to_string(), "gw.toml:14:9: connection[1].esp_proposals[0]: unknown keyword \"aes999\"");
        let e = ConfigError { position: None, path: String::new(), message: "cannot read".into(), ..e };
        assert_eq!(e.to_string(), "gw.toml: cannot read");
    }
}
