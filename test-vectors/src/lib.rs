//! Reader of the vector files kept in each crate's `tests/vectors/` (test-only).
//!
//! The format: `#` comment lines (the source document and section come first), `[case NAME]`
//! starting a case, `field = value` lines (lowercase hex, or text for names such as `hash`), and
//! `field += more` continuing a long value.

/// One case: its name and fields, with values joined across `+=` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// The name in `[case NAME]`.
    pub name: String,
    fields: Vec<(String, String)>,
}

impl Case {
    /// A field's text, if present.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == field).map(|(_, v)| v.as_str())
    }

    /// True when the case has `field`.
    pub fn has(&self, field: &str) -> bool {
        self.text(field).is_some()
    }

    /// A field's bytes; panics (failing the test) naming the case when it is absent or not hex.
    pub fn hex(&self, field: &str) -> Vec<u8> {
        let v = self.text(field).unwrap_or_else(|| panic!("{}: no field {field}", self.name));
        hex::decode(v).unwrap_or_else(|e| panic!("{}: field {field}: {e}", self.name))
    }
}

/// Every case of a vector file, in order.
pub fn parse_cases(text: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    for (n, line) in text.lines().map(str::trim).enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix("[case ").and_then(|l| l.strip_suffix(']')) {
            cases.push(Case { name: name.to_string(), fields: Vec::new() });
            continue;
        }
        let case =
            cases.last_mut().unwrap_or_else(|| panic!("line {}: a field before the first [case]", n + 1));
        if let Some((k, v)) = line.split_once("+=") {
            let f = case.fields.iter_mut().find(|(f, _)| f == k.trim());
            let f = f.unwrap_or_else(|| panic!("line {}: += before {} =", n + 1, k.trim()));
            f.1.push_str(v.trim());
        } else if let Some((k, v)) = line.split_once('=') {
            case.fields.push((k.trim().to_string(), v.trim().to_string()));
        } else {
            panic!("line {}: neither a case, a field nor a comment: {line}", n + 1);
        }
    }
    cases
}

/// The case called `name`; panics naming it when there is none.
pub fn case(text: &str, name: &str) -> Case {
    parse_cases(text).into_iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no case {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cases_fields_and_continuations() {
        let text = "# source\n[case a]\nkey = 0102\nkey += 03\nhash = sha256\n\n[case b]\nx = ff\n";
        let cases = parse_cases(text);
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].hex("key"), [1, 2, 3]);
        assert_eq!(cases[0].text("hash"), Some("sha256"));
        assert!(!cases[0].has("x"));
        assert_eq!(case(text, "b").hex("x"), [0xff]);
    }
}
