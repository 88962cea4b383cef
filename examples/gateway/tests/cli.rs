//! The `vpn-gateway` binary: `check` on the sample configs and on broken ones, and the stubs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vpn-gateway")).args(args).output().expect("runs")
}

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

#[test]
fn check_accepts_each_sample_config() {
    for (name, n) in [
        ("hub.toml", "3 connections"),
        ("site.toml", "1 connection"),
        ("vnet-a.toml", "1 connection"),
        ("vnet-b.toml", "1 connection"),
    ] {
        let path = configs().join(name);
        let out = bin(&["check", "--config", path.to_str().unwrap()]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(stdout, format!("{}: ok, {n}\n", path.display()));
    }
}

#[test]
fn check_reports_every_error_and_fails() {
    let dir = std::env::temp_dir().join(format!("vpn-gw-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    let text = std::fs::read_to_string(configs().join("site.toml"))
        .unwrap()
        .replace("listen = [\"192.0.2.2\"]", "listen = [\"192.0.2.256\"]")
        .replace("esp_proposals = [\"aes256gcm16\"]", "esp_proposals = [\"aes999\"]");
    std::fs::write(&path, text).unwrap();
    let out = bin(&["check", "-c", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let p = path.display();
    assert_eq!(
        stderr,
        format!(
            "{p}:4:11: gateway.listen[0]: \"192.0.2.256\" is not an IP address or ADDRESS:PORT\n\
             {p}:17:19: connection[0].esp_proposals[0]: unknown keyword \"aes999\"\n\
             {p}: 2 errors\n"
        )
    );
    // `run` refuses to start on the same file.
    let out = bin(&["run", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn control_commands_without_a_gateway_fail_clearly() {
    let sock = std::env::temp_dir().join(format!("vpn-gw-no-such-{}.sock", std::process::id()));
    let s = sock.to_str().unwrap();
    for args in [
        vec!["status", "--json", "--socket", s],
        vec!["initiate", "dc1", "--socket", s],
        vec!["terminate", "dc1", "--socket", s],
    ] {
        let out = bin(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("connecting to") && err.contains(s), "{args:?}: {err}");
    }
}
