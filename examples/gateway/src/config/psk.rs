//! The pre-shared key: `psk` (text, or hex after `0x`) or `psk_file` (relative to the config).

use std::collections::HashMap;
use std::ops::Range;

use vpn_core::secret::SecretVec;

use super::parse::{Val, Walker};
use super::values::decode_hex;
use super::MIN_PSK_LEN;

impl Walker<'_> {
    pub(super) fn psk(
        &mut self,
        f: &HashMap<&str, &Val<'_>>,
        prefix: &str,
        table: &Range<usize>,
    ) -> Option<SecretVec> {
        let (psk, file) = (f.get("psk"), f.get("psk_file"));
        let (secret, span, path) = match (psk, file) {
            (Some(_), Some(v)) => {
                self.d.span(&v.span(), format!("{prefix}psk_file"), "give either psk or psk_file, not both");
                return None;
            }
            (None, None) => {
                self.d.span(table, format!("{prefix}psk"), "one of psk or psk_file is required");
                return None;
            }
            (Some(v), None) => {
                let s = self.string(v, &format!("{prefix}psk"))?;
                let secret = match s.s.strip_prefix("0x") {
                    Some(hex) => match decode_hex(hex) {
                        Some(b) => SecretVec::new(b),
                        None => {
                            self.d.span(
                                &s.span,
                                s.path,
                                "a psk starting with \"0x\" must be an even number of hex digits",
                            );
                            return None;
                        }
                    },
                    None => SecretVec::from_slice(s.s.as_bytes()),
                };
                (secret, s.span, s.path)
            }
            (None, Some(v)) => {
                let s = self.string(v, &format!("{prefix}psk_file"))?;
                let full = self.base_dir.join(s.s);
                match std::fs::read(&full) {
                    Ok(mut bytes) => {
                        for suffix in [&b"\r\n"[..], b"\n"] {
                            if bytes.ends_with(suffix) {
                                bytes.truncate(bytes.len() - suffix.len());
                                break;
                            }
                        }
                        (SecretVec::new(bytes), s.span, s.path)
                    }
                    Err(e) => {
                        self.d.span(&s.span, s.path, format!("cannot read {}: {e}", full.display()));
                        return None;
                    }
                }
            }
        };
        if secret.is_empty() {
            self.d.span(&span, path, "the pre-shared key is empty");
            return None;
        }
        if secret.len() < MIN_PSK_LEN {
            self.d.span(
                &span,
                path,
                format!("the pre-shared key is {} bytes; at least {MIN_PSK_LEN} are required", secret.len()),
            );
            return None;
        }
        Some(secret)
    }
}
