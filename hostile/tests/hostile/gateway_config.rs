//! Gateway config (issue 6 item 10): every field of issue 5's example config, malformed in turn
//! (wrong type, bad value, out of range), gives an error (one, or two about the same field) naming the file, the field's
//! line and its path; `vpn-gateway check` exits with failure and prints it with the count; and
//! `vpn-gateway run` refuses to start before anything else happens.

use std::path::{Path, PathBuf};

use vpn_gateway::config::parse_str;

use crate::ike_util::ensure;
use crate::{expect_eq, Case};

const BASE: &str = include_str!("../../../examples/gateway/tests/data/issue5.toml");

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gateway/tests/data")
}

/// The base with the first line starting `key =` (at or after line `from`) replaced by `new`;
/// returns the text and the 1-based line number replaced.
fn edit(key: &str, new: &str, from: usize) -> (String, usize) {
    let mut out = String::new();
    let mut at = 0;
    for (i, line) in BASE.lines().enumerate() {
        if at == 0 && i + 1 >= from && line.starts_with(&format!("{key} =")) {
            at = i + 1;
            out.push_str(new);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    (out, at)
}

/// (key, malformed line, expected field path); keys of `[gateway]` come first in the file,
/// `[[connection]]` keys are searched from its line on (`name` occurs in both).
fn table() -> Vec<(&'static str, &'static str, &'static str, bool)> {
    vec![
        ("name", "name = \"h u b\"", "gateway.name", false),
        ("name", "name = 5", "gateway.name", false),
        ("listen", "listen = [\"192.0.2.300\"]", "gateway.listen[0]", false),
        ("listen", "listen = 5", "gateway.listen", false),
        ("listen", "listen = [\"192.0.2.1:99999\"]", "gateway.listen[0]", false),
        ("control_socket", "control_socket = 5", "gateway.control_socket", false),
        ("tun", "tun = 1", "gateway.tun", false),
        ("tun_addresses", "tun_addresses = [\"10.1.0.1/33\"]", "gateway.tun_addresses[0]", false),
        ("tun_addresses", "tun_addresses = [\"10.1.0.300/32\"]", "gateway.tun_addresses[0]", false),
        ("name", "name = \"d c\"", "connection[0].name", true),
        ("kind", "kind = \"mesh\"", "connection[0].kind", true),
        ("kind", "kind = true", "connection[0].kind", true),
        ("remote_address", "remote_address = \"192.0.2.256\"", "connection[0].remote_address", true),
        ("remote_address", "remote_address = 192", "connection[0].remote_address", true),
        ("local_id", "local_id = 5", "connection[0].local_id", true),
        ("remote_id", "remote_id = []", "connection[0].remote_id", true),
        ("psk", "psk = \"short\"", "connection[0].psk", true),
        ("psk", "psk = 12345678", "connection[0].psk", true),
        ("psk", "psk = \"0xZZZZZZZZZZZZZZZZ\"", "connection[0].psk", true),
        ("routing", "routing = \"bgp\"", "connection[0].routing", true),
        ("connection_mode", "connection_mode = \"both\"", "connection[0].connection_mode", true),
        ("local_selectors", "local_selectors = [\"10.1.0.0/99\"]", "connection[0].local_selectors[0]", true),
        (
            "remote_selectors",
            "remote_selectors = [\"10.2.0.0/24\", \"x\"]",
            "connection[0].remote_selectors[1]",
            true,
        ),
        ("remote_selectors", "remote_selectors = 5", "connection[0].remote_selectors", true),
        (
            "ike_proposals",
            "ike_proposals = [\"aes999-prfsha256-x25519\"]",
            "connection[0].ike_proposals[0]",
            true,
        ),
        ("ike_proposals", "ike_proposals = [\"aes256gcm16\"]", "connection[0].ike_proposals[0]", true),
        (
            "esp_proposals",
            "esp_proposals = [\"aes256gcm16\", \"des\"]",
            "connection[0].esp_proposals[1]",
            true,
        ),
        ("ike_lifetime", "ike_lifetime = \"forever\"", "connection[0].ike_lifetime", true),
        ("child_lifetime", "child_lifetime = \"-1h\"", "connection[0].child_lifetime", true),
        ("child_lifetime", "child_lifetime = []", "connection[0].child_lifetime", true),
        ("dpd_timeout", "dpd_timeout = \"45 parsecs\"", "connection[0].dpd_timeout", true),
    ]
}

fn connection_line() -> usize {
    BASE.lines().position(|l| l.trim() == "[[connection]]").map_or(0, |i| i + 1)
}

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    v.push(Case::new("gateway-config/base-is-valid", || {
        parse_str(BASE, "gw.toml", &data_dir()).map(|_| ()).map_err(|e| e.to_string())
    }));
    for (k, (key, line, path, in_connection)) in table().into_iter().enumerate() {
        v.push(Case::new(
            format!("gateway-config/field/{path}/{k}-one-error-naming-line-and-field"),
            move || {
                let from = if in_connection { connection_line() } else { 1 };
                let (text, at) = edit(key, line, from);
                ensure(at > 0, || format!("no line {key} = in the base"))?;
                let errs = match parse_str(&text, "gw.toml", &data_dir()) {
                    Ok(_) => return Err(format!("`{line}` was accepted")),
                    Err(e) => e.errors().to_vec(),
                };
                // One error, or several about the same field (e.g. a proposal lacking two transforms).
                ensure(!errs.is_empty() && errs.len() <= 2, || format!("{} errors: {errs:?}", errs.len()))?;
                for e in &errs {
                    expect_eq("file", e.file.as_str(), "gw.toml")?;
                    expect_eq("line", e.position.map(|p| p.0), Some(at))?;
                    expect_eq("path", e.path.as_str(), path)?;
                    ensure(!e.message.is_empty(), || "empty message".into())?;
                    let shown = e.to_string();
                    ensure(shown.starts_with(&format!("gw.toml:{at}:")) && shown.contains(path), || {
                        format!("displayed as {shown}")
                    })?;
                }
                Ok(())
            },
        ));
    }
    v.push(Case::new("gateway-config/unknown-fields-named-with-their-line", || {
        for (after, new, path) in [
            ("tun", "tun = \"vpn0\"\nmtu = 1400", "gateway.mtu"),
            ("dpd_timeout", "dpd_timeout = \"45s\"\nrekey = false", "connection[0].rekey"),
        ] {
            let (text, at) = edit(after, new, 1);
            let errs = parse_str(&text, "gw.toml", &data_dir()).err().ok_or("accepted")?.errors().to_vec();
            expect_eq("errors", errs.len(), 1)?;
            expect_eq("line", errs[0].position.map(|p| p.0), Some(at + 1))?;
            expect_eq("path", errs[0].path.as_str(), path)?;
        }
        Ok(())
    }));
    v.push(Case::new("gateway-config/every-error-reported-at-once-in-file-order", || {
        let mut text = BASE.to_string();
        let mut want = Vec::new();
        for (key, line, path, in_connection) in [table()[0], table()[10], table()[16], table()[30]] {
            let from = if in_connection { connection_line() } else { 1 };
            let base_for_edit = text.clone();
            let mut out = String::new();
            let mut at = 0;
            for (i, l) in base_for_edit.lines().enumerate() {
                if at == 0 && i + 1 >= from && l.starts_with(&format!("{key} =")) {
                    at = i + 1;
                    out.push_str(line);
                } else {
                    out.push_str(l);
                }
                out.push('\n');
            }
            text = out;
            want.push((at, path.to_string()));
        }
        let errs = parse_str(&text, "gw.toml", &data_dir()).err().ok_or("accepted")?.errors().to_vec();
        let got: Vec<(usize, String)> =
            errs.iter().map(|e| (e.position.map_or(0, |p| p.0), e.path.clone())).collect();
        expect_eq("errors (line, path)", got, want)
    }));
    v.push(Case::new("gateway-config/check-and-run-refuse-a-malformed-config", || {
        let dir = std::env::temp_dir().join(format!("vpn-hostile-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let file = dir.join("gw.toml");
        let (text, at) = edit("psk", "psk = \"short\"", connection_line());
        std::fs::write(&file, text).map_err(|e| e.to_string())?;
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = vpn_gateway::cli::check(&file, &mut out, &mut err);
        let err = String::from_utf8_lossy(&err).to_string();
        expect_eq("check exit code", format!("{code:?}"), format!("{:?}", std::process::ExitCode::FAILURE))?;
        ensure(out.is_empty(), || format!("check printed to stdout: {}", String::from_utf8_lossy(&out)))?;
        let shown = file.display().to_string();
        ensure(
            err.contains(&format!("{shown}:{at}:"))
                && err.contains("connection[0].psk")
                && err.trim_end().ends_with(&format!("{shown}: 1 error")),
            || format!("check printed: {err}"),
        )?;
        let mut sink = Vec::new();
        let refused = vpn_gateway::cli::load_or_report(&file, &mut sink)
            .err()
            .ok_or("load_or_report accepted the config")?;
        expect_eq(
            "load_or_report exit code",
            format!("{refused:?}"),
            format!("{:?}", std::process::ExitCode::FAILURE),
        )?;
        // A missing file: one error naming the file, no position.
        let missing = dir.join("absent.toml");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = vpn_gateway::cli::check(&missing, &mut out, &mut err);
        expect_eq(
            "check exit code (missing file)",
            format!("{code:?}"),
            format!("{:?}", std::process::ExitCode::FAILURE),
        )?;
        let err = String::from_utf8_lossy(&err).to_string();
        ensure(err.starts_with(&format!("{}: cannot read", missing.display())), || {
            format!("missing file: {err}")
        })?;
        // The good config passes check.
        std::fs::write(&file, BASE).map_err(|e| e.to_string())?;
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = vpn_gateway::cli::check(&file, &mut out, &mut err);
        expect_eq(
            "check exit code (good)",
            format!("{code:?}"),
            format!("{:?}", std::process::ExitCode::SUCCESS),
        )?;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }));
    v
}

/// Cases of defects this suite found and that are fixed: kept as regression tests.
pub fn regressions() -> Vec<Case> {
    Vec::new()
}
