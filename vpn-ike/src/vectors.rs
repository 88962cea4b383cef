//! Test-only parser of the vector files in `tests/vectors/`: `[case NAME]`, `field = hex`,
//! `field += more hex`, `#` comments.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// One case: its name and fields (values joined across `+=` lines).
pub(crate) struct Case {
    pub(crate) name: String,
    fields: Vec<(String, String)>,
}

impl Case {
    pub(crate) fn text(&self, k: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    pub(crate) fn hex(&self, k: &str) -> Vec<u8> {
        let v = self.text(k).unwrap_or_else(|| panic!("{}: no field {k}", self.name));
        hex::decode(v).unwrap_or_else(|e| panic!("{}: field {k}: {e}", self.name))
    }
}

pub(crate) fn parse_cases(text: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix("[case ").and_then(|l| l.strip_suffix(']')) {
            cases.push(Case { name: name.to_string(), fields: Vec::new() });
        } else if let Some((k, v)) = line.split_once("+=") {
            let c = cases.last_mut().expect("field before first case");
            let f = c.fields.iter_mut().find(|(n, _)| n == k.trim()).expect("+= before =");
            f.1.push_str(v.trim());
        } else if let Some((k, v)) = line.split_once('=') {
            let c = cases.last_mut().expect("field before first case");
            c.fields.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    cases
}
