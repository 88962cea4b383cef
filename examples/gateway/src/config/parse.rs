//! Walks the spanned TOML document field by field, so that every error is found and located.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use toml::de::{DeTable, DeValue};
use toml::Spanned;
use vpn_core::time::Duration;
use vpn_core::ts::TrafficSelector;

use super::error::Diag;
use super::values::parse_duration;
use super::*;

pub(super) type Val<'i> = Spanned<DeValue<'i>>;

const GATEWAY_FIELDS: &[&str] = &[
    "name",
    "listen",
    "control_socket",
    "tun",
    "tun_addresses",
    "retransmit_timeout",
    "retransmit_tries",
    "max_connecting",
];
const CONNECTION_FIELDS: &[&str] = &[
    "name",
    "kind",
    "remote_address",
    "local_id",
    "remote_id",
    "psk",
    "psk_file",
    "routing",
    "connection_mode",
    "local_selectors",
    "remote_selectors",
    "ike_proposals",
    "esp_proposals",
    "ike_lifetime",
    "child_lifetime",
    "dpd_timeout",
    "interface",
    "local_address",
];

pub(super) fn parse(text: &str, file: &str, base_dir: &Path) -> Result<Config, ConfigErrors> {
    let mut d = Diag::new(file, text);
    let (doc, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        for e in syntax {
            let at = e.span().map_or(0, |s| s.start);
            let msg = e.message().trim().to_string();
            d.at(at, "", format!("TOML syntax: {msg}"));
        }
        return Err(ConfigErrors(d.finish()));
    }
    let mut w = Walker { d, base_dir, names: Vec::new(), interfaces: Vec::new() };
    let config = w.document(doc.get_ref());
    if w.d.has_errors() {
        return Err(ConfigErrors(w.d.finish()));
    }
    Ok(config.expect("a config without errors is complete"))
}

pub(super) struct Walker<'a> {
    pub(super) d: Diag<'a>,
    pub(super) base_dir: &'a Path,
    /// Connection names seen: (name, span of the value, path, line of the header).
    names: Vec<(String, Range<usize>, String, usize)>,
    /// Tunnel interfaces of route-based connections: (name, span, path).
    interfaces: Vec<(String, Range<usize>, String)>,
}

/// A string value with where it is and its path.
pub(super) struct Str<'t> {
    pub(super) s: &'t str,
    pub(super) span: Range<usize>,
    pub(super) path: String,
}

impl Walker<'_> {
    fn document(&mut self, doc: &DeTable<'_>) -> Option<Config> {
        let fields = self.fields(doc, "", &["gateway", "connection"]);
        let gateway = match fields.get("gateway") {
            Some(v) => match v.get_ref() {
                DeValue::Table(t) => self.gateway(t, v.span()),
                other => {
                    self.type_error(v, "gateway", "a table ([gateway])", other);
                    None
                }
            },
            None => {
                self.d.at(0, "gateway", "the [gateway] table is missing");
                None
            }
        };
        let mut connections = Vec::new();
        let mut ok = true;
        if let Some(v) = fields.get("connection") {
            match v.get_ref() {
                DeValue::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let path = format!("connection[{i}]");
                        match item.get_ref() {
                            DeValue::Table(t) => {
                                match self.connection(t, item.span(), &path, gateway.as_ref()) {
                                    Some(c) => connections.push(c),
                                    None => ok = false,
                                }
                            }
                            other => {
                                self.type_error(item, &path, "a table ([[connection]])", other);
                                ok = false;
                            }
                        }
                    }
                }
                other => {
                    self.type_error(v, "connection", "an array of tables ([[connection]])", other);
                    ok = false;
                }
            }
        }
        self.check_names();
        self.check_interfaces(gateway.as_ref());
        let gateway = gateway?;
        ok.then_some(Config { gateway, connections })
    }

    fn gateway(&mut self, t: &DeTable<'_>, span: Range<usize>) -> Option<Gateway> {
        let f = self.fields(t, "gateway.", GATEWAY_FIELDS);
        let name = self.required_str(&f, "name", "gateway.", &span).and_then(|s| self.name(&s));
        let listen = self.required(&f, "listen", "gateway.", &span).and_then(|v| {
            let items = self.str_list(v, "gateway.listen", true)?;
            self.each(items, ListenAddr::from_str)
        });
        let control_socket = match f.get("control_socket") {
            Some(v) => self.string(v, "gateway.control_socket").and_then(|s| {
                if s.s.is_empty() {
                    self.d.span(&s.span, s.path, "must not be empty");
                    None
                } else {
                    Some(PathBuf::from(s.s))
                }
            }),
            None => Some(PathBuf::from(DEFAULT_CONTROL_SOCKET)),
        };
        let tun = self.required_str(&f, "tun", "gateway.", &span).and_then(|s| self.interface_name(&s));
        let tun_addresses = match f.get("tun_addresses") {
            Some(v) => self
                .str_list(v, "gateway.tun_addresses", false)
                .and_then(|items| self.each(items, IpCidr::from_str)),
            None => Some(Vec::new()),
        };
        let retransmit_timeout =
            self.duration(&f, "retransmit_timeout", "gateway.", Some(DEFAULT_RETRANSMIT_TIMEOUT));
        let retransmit_tries = self
            .number(&f, "retransmit_tries", "gateway.", 1..=20, u64::from(DEFAULT_RETRANSMIT_TRIES))
            .and_then(|n| u32::try_from(n).ok());
        let max_connecting = self
            .number(&f, "max_connecting", "gateway.", 1..=10_000, DEFAULT_MAX_CONNECTING as u64)
            .and_then(|n| usize::try_from(n).ok());
        Some(Gateway {
            max_connecting: max_connecting?,
            name: name?,
            listen: listen?,
            control_socket: control_socket?,
            tun: tun?,
            tun_addresses: tun_addresses?,
            retransmit_timeout: retransmit_timeout?.unwrap_or(DEFAULT_RETRANSMIT_TIMEOUT),
            retransmit_tries: retransmit_tries?,
        })
    }

    fn connection(
        &mut self,
        t: &DeTable<'_>,
        span: Range<usize>,
        path: &str,
        gw: Option<&Gateway>,
    ) -> Option<Connection> {
        let p = format!("{path}.");
        let f = self.fields(t, &p, CONNECTION_FIELDS);
        let name = self.required_str(&f, "name", &p, &span).and_then(|s| {
            let name = self.name(&s)?;
            let line = self.d.line_col(span.start).0;
            self.names.push((name.clone(), s.span.clone(), s.path.clone(), line));
            Some(name)
        });
        let kind = self.keyword::<ConnectionKind>(&f, "kind", &p, ConnectionKind::SiteToSite);
        let remote_address = self
            .required_str(&f, "remote_address", &p, &span)
            .and_then(|s| self.value(&s, RemoteAddress::from_str));
        let local_id = match self.opt_str(&f, "local_id", &p) {
            Some(s) => self.value(&s, Identity::from_str).map(Some),
            None if f.contains_key("local_id") => None,
            None => Some(None),
        };
        let remote_id = match self.opt_str(&f, "remote_id", &p) {
            Some(s) if s.s == "%any" => Some(Some(RemoteId::Any)),
            Some(s) => self.value(&s, Identity::from_str).map(|id| Some(RemoteId::Is(id))),
            None if f.contains_key("remote_id") => None,
            None => Some(None),
        };
        let psk = self.psk(&f, &p, &span);
        let routing = self.keyword::<Routing>(&f, "routing", &p, Routing::PolicyBased);
        let mode = self.keyword::<ConnectionMode>(&f, "connection_mode", &p, ConnectionMode::Default);
        let local_selectors = self.selectors(&f, "local_selectors", &p);
        let remote_selectors = self.selectors(&f, "remote_selectors", &p);
        let ike_proposals =
            self.proposals(&f, "ike_proposals", &p, DEFAULT_IKE_PROPOSALS, IkeProposal::parse);
        let esp_proposals =
            self.proposals(&f, "esp_proposals", &p, DEFAULT_ESP_PROPOSALS, EspProposal::parse);
        let ike_lifetime = self.duration(&f, "ike_lifetime", &p, Some(DEFAULT_IKE_LIFETIME));
        let child_lifetime = self.duration(&f, "child_lifetime", &p, Some(DEFAULT_CHILD_LIFETIME));
        let dpd_timeout = self.duration(&f, "dpd_timeout", &p, None);
        let local_address = match self.opt_str(&f, "local_address", &p) {
            Some(s) => self
                .value(&s, |v| {
                    let ip = v.parse::<IpAddr>().map_err(|e| format!("{v:?} is not an IP address: {e}"))?;
                    match gw {
                        Some(g)
                            if !g.listen.iter().any(|l| {
                                l.addr == ip || (l.addr.is_unspecified() && l.addr.is_ipv4() == ip.is_ipv4())
                            }) =>
                        {
                            Err(format!("{ip} is not one of gateway.listen"))
                        }
                        _ => Ok(ip),
                    }
                })
                .map(Some),
            None if f.contains_key("local_address") => None,
            None => Some(None),
        };
        if let (Some(Some(l)), Some(Some(r))) = (&local_address, remote_address.map(|r| r.ip())) {
            if l.is_ipv4() != r.is_ipv4() {
                self.d.span(
                    &f["local_address"].span(),
                    format!("{p}local_address"),
                    format!("{l} and remote_address {r} are of different address families"),
                );
            }
        }
        let interface = match (self.opt_str(&f, "interface", &p), routing) {
            (Some(s), Some(Routing::RouteBased)) => self.interface_name(&s).map(|n| {
                self.interfaces.push((n.clone(), s.span.clone(), s.path.clone()));
                Some(n)
            }),
            (Some(s), Some(Routing::PolicyBased)) => {
                self.d.span(&s.span, s.path, "only route-based connections have their own interface (policy-based ones share gateway.tun)");
                None
            }
            (None, _) if f.contains_key("interface") => None,
            (_, Some(Routing::RouteBased)) => name.as_ref().map(|n| {
                // Like an XFRM/VTI interface: named after the connection unless told otherwise.
                let derived: String = format!("vti-{n}").chars().take(15).collect();
                let at = f.get("routing").map_or(span.clone(), |v| v.span());
                self.interfaces.push((derived.clone(), at, format!("{p}interface")));
                Some(derived)
            }),
            _ => Some(None),
        };

        // Rules across fields.
        if let (Some(ip), Some(gw)) = (remote_address.and_then(|r| r.ip()), gw) {
            if !gw.listen.iter().any(|l| l.addr.is_ipv4() == ip.is_ipv4()) {
                let fam = if ip.is_ipv4() { "IPv4" } else { "IPv6" };
                let at = f["remote_address"].span();
                self.d.span(
                    &at,
                    format!("{p}remote_address"),
                    format!("{ip} is {fam} but gateway.listen has no {fam} address"),
                );
            }
        }
        if let (Some(RemoteAddress::Any), Some(ConnectionMode::InitiatorOnly)) = (remote_address, mode) {
            let at = f["connection_mode"].span();
            self.d.span(
                &at,
                format!("{p}connection_mode"),
                "\"initiator-only\" needs a remote_address to initiate to, not \"%any\"",
            );
        }
        if let Some(routing) = routing {
            let need_local = routing == Routing::PolicyBased;
            for (field, sel, needed) in [
                ("local_selectors", &local_selectors, need_local),
                ("remote_selectors", &remote_selectors, true),
            ] {
                if needed && matches!(sel, Some(None)) {
                    self.d.span(
                        &span,
                        format!("{p}{field}"),
                        format!("{field} is required with routing = \"{routing}\""),
                    );
                }
            }
        }
        if let (Some(Some(l)), Some(Some(r))) = (&local_selectors, &remote_selectors) {
            let fam =
                |v: &Vec<TrafficSelector>| (v.iter().any(|t| t.is_ipv4()), v.iter().any(|t| !t.is_ipv4()));
            let ((l4, l6), (r4, r6)) = (fam(l), fam(r));
            if !(l4 && r4 || l6 && r6) {
                let only = |v4: bool| if v4 { "IPv4" } else { "IPv6" };
                self.d.span(
                    &f["remote_selectors"].span(),
                    format!("{p}remote_selectors"),
                    format!(
                        "no address family in common with local_selectors ({} only vs {} only)",
                        only(l4),
                        only(r4)
                    ),
                );
            }
        }
        let remote_id = match (remote_id?, remote_address?) {
            (Some(id), _) => id,
            (None, RemoteAddress::Any) => RemoteId::Any,
            (None, RemoteAddress::Addr(a)) => RemoteId::Is(a.ip().into()),
        };
        let line = self.d.line_col(span.start).0;
        Some(Connection {
            name: name?,
            kind: kind?,
            remote_address: remote_address?,
            local_id: local_id?,
            remote_id,
            psk: psk?,
            routing: routing?,
            mode: mode?,
            local_selectors: local_selectors?.unwrap_or_default(),
            remote_selectors: remote_selectors?.unwrap_or_default(),
            ike_proposals: ike_proposals?,
            esp_proposals: esp_proposals?,
            ike_lifetime: ike_lifetime?.expect("has a default"),
            child_lifetime: child_lifetime?.expect("has a default"),
            dpd_timeout: dpd_timeout?,
            interface: interface?,
            local_address: local_address?,
            line,
        })
    }

    /// The known fields of `t`; unknown ones are reported.
    fn fields<'t, 'i>(
        &mut self,
        t: &'t DeTable<'i>,
        prefix: &str,
        known: &[&str],
    ) -> HashMap<&'t str, &'t Val<'i>> {
        let mut out = HashMap::new();
        for (k, v) in t.iter() {
            let key: &str = k.get_ref();
            if known.contains(&key) {
                out.insert(key, v);
            } else {
                self.d.span(
                    &k.span(),
                    format!("{prefix}{key}"),
                    format!("unknown field (expected one of: {})", known.join(", ")),
                );
            }
        }
        out
    }

    fn type_error(&mut self, v: &Val<'_>, path: &str, expected: &str, found: &DeValue<'_>) {
        self.d.span(&v.span(), path, format!("expected {expected}, found {}", found.type_str()));
    }

    pub(super) fn string<'t>(&mut self, v: &'t Val<'_>, path: &str) -> Option<Str<'t>> {
        match v.get_ref() {
            DeValue::String(s) => Some(Str { s, span: v.span(), path: path.to_string() }),
            other => {
                self.type_error(v, path, "a string", other);
                None
            }
        }
    }

    fn required<'t, 'i>(
        &mut self,
        f: &HashMap<&str, &'t Val<'i>>,
        key: &str,
        prefix: &str,
        table: &Range<usize>,
    ) -> Option<&'t Val<'i>> {
        let v = f.get(key).copied();
        if v.is_none() {
            self.d.span(table, format!("{prefix}{key}"), "required field is missing");
        }
        v
    }

    fn required_str<'t>(
        &mut self,
        f: &HashMap<&str, &'t Val<'_>>,
        key: &str,
        prefix: &str,
        table: &Range<usize>,
    ) -> Option<Str<'t>> {
        let v = self.required(f, key, prefix, table)?;
        self.string(v, &format!("{prefix}{key}"))
    }

    /// An optional string field: `None` when absent or of the wrong type (reported).
    fn opt_str<'t>(&mut self, f: &HashMap<&str, &'t Val<'_>>, key: &str, prefix: &str) -> Option<Str<'t>> {
        let v = f.get(key)?;
        self.string(v, &format!("{prefix}{key}"))
    }

    /// A list of strings (a single string is taken as a list of one).
    fn str_list<'t>(&mut self, v: &'t Val<'_>, path: &str, non_empty: bool) -> Option<Vec<Str<'t>>> {
        let list = match v.get_ref() {
            DeValue::String(s) => vec![Str { s, span: v.span(), path: path.to_string() }],
            DeValue::Array(items) => {
                let mut out = Vec::new();
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match self.string(item, &format!("{path}[{i}]")) {
                        Some(s) => out.push(s),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                out
            }
            other => {
                self.type_error(v, path, "an array of strings", other);
                return None;
            }
        };
        if non_empty && list.is_empty() {
            self.d.span(&v.span(), path, "must not be empty");
            return None;
        }
        Some(list)
    }

    /// Apply `f` to each item, reporting every failure.
    fn each<T, E: std::fmt::Display>(
        &mut self,
        items: Vec<Str<'_>>,
        f: impl Fn(&str) -> Result<T, E>,
    ) -> Option<Vec<T>> {
        let mut out = Vec::new();
        let mut ok = true;
        for s in items {
            match self.value(&s, &f) {
                Some(v) => out.push(v),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn value<T, E: std::fmt::Display>(&mut self, s: &Str<'_>, f: impl Fn(&str) -> Result<T, E>) -> Option<T> {
        match f(s.s) {
            Ok(v) => Some(v),
            Err(e) => {
                self.d.span(&s.span, s.path.clone(), e.to_string());
                None
            }
        }
    }

    fn name(&mut self, s: &Str<'_>) -> Option<String> {
        let ok = !s.s.is_empty()
            && s.s.len() <= 64
            && s.s.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !ok {
            self.d.span(
                &s.span,
                s.path.clone(),
                format!("{:?} is not a valid name (1 to 64 of A-Z a-z 0-9 . _ -)", s.s),
            );
            return None;
        }
        Some(s.s.to_string())
    }

    fn keyword<T: FromStr<Err = String>>(
        &mut self,
        f: &HashMap<&str, &Val<'_>>,
        key: &str,
        prefix: &str,
        default: T,
    ) -> Option<T> {
        match self.opt_str(f, key, prefix) {
            Some(s) => self.value(&s, T::from_str),
            None if f.contains_key(key) => None,
            None => Some(default),
        }
    }

    /// `Some(None)`: absent; `None`: present but wrong.
    fn selectors(
        &mut self,
        f: &HashMap<&str, &Val<'_>>,
        key: &str,
        prefix: &str,
    ) -> Option<Option<Vec<TrafficSelector>>> {
        let Some(v) = f.get(key) else { return Some(None) };
        let items = self.str_list(v, &format!("{prefix}{key}"), true)?;
        self.each(items, |s| TrafficSelector::from_str(s).map_err(|e| format!("{s:?}: {e}"))).map(Some)
    }

    fn proposals<T>(
        &mut self,
        f: &HashMap<&str, &Val<'_>>,
        key: &str,
        prefix: &str,
        defaults: &[&str],
        parse: fn(&str) -> Result<T, Vec<ProposalError>>,
    ) -> Option<Vec<T>> {
        let Some(v) = f.get(key) else {
            return Some(defaults.iter().map(|s| parse(s).expect("default proposals parse")).collect());
        };
        let items = self.str_list(v, &format!("{prefix}{key}"), true)?;
        let mut out = Vec::new();
        let mut ok = true;
        for s in items {
            match parse(s.s) {
                Ok(p) => out.push(p),
                Err(errs) => {
                    ok = false;
                    for e in errs {
                        let at = self.inner_offset(&s, e.offset);
                        self.d.at(at, s.path.clone(), e.message);
                    }
                }
            }
        }
        ok.then_some(out)
    }

    /// Byte offset in the file of byte `i` inside string value `s`, when the string is written
    /// without escapes; otherwise the start of the value.
    fn inner_offset(&self, s: &Str<'_>, i: usize) -> usize {
        match self.d.source(&s.span) {
            Some(src) if src.len() == s.s.len() + 2 && &src[1..src.len() - 1] == s.s => s.span.start + 1 + i,
            _ => s.span.start,
        }
    }

    /// A whole number in `range` (decimal), or `default` when absent.
    fn number(
        &mut self,
        f: &HashMap<&str, &Val<'_>>,
        key: &str,
        prefix: &str,
        range: std::ops::RangeInclusive<u64>,
        default: u64,
    ) -> Option<u64> {
        let path = format!("{prefix}{key}");
        let expected = format!("a number from {} to {}", range.start(), range.end());
        let Some(v) = f.get(key) else { return Some(default) };
        match v.get_ref() {
            DeValue::Integer(i) => match i.as_str().parse::<u64>() {
                Ok(n) if i.radix() == 10 && range.contains(&n) => Some(n),
                _ => {
                    self.d.span(&v.span(), path, format!("expected {expected}"));
                    None
                }
            },
            other => {
                self.type_error(v, &path, &expected, other);
                None
            }
        }
    }

    /// A duration: a string with a unit, or an integer number of seconds. `Some(None)`: absent
    /// without default, or zero (which disables).
    fn duration(
        &mut self,
        f: &HashMap<&str, &Val<'_>>,
        key: &str,
        prefix: &str,
        default: Option<Duration>,
    ) -> Option<Option<Duration>> {
        let path = format!("{prefix}{key}");
        let Some(v) = f.get(key) else { return Some(default) };
        let d = match v.get_ref() {
            DeValue::String(s) => match parse_duration(s) {
                Ok(d) => d,
                Err(e) => {
                    self.d.span(&v.span(), path, e);
                    return None;
                }
            },
            DeValue::Integer(i) => match i.as_str().parse::<u64>() {
                Ok(n) if i.radix() == 10 => Duration::from_secs(n),
                _ => {
                    self.d.span(&v.span(), path, "expected a non-negative number of seconds");
                    return None;
                }
            },
            other => {
                self.type_error(v, &path, "a duration such as \"45s\"", other);
                return None;
            }
        };
        if d.is_zero() {
            if default.is_some() {
                self.d.span(&v.span(), path, "must be longer than zero");
                return None;
            }
            return Some(None);
        }
        Some(Some(d))
    }

    /// A network interface name: 1 to 15 characters, no '/', ':' or spaces.
    fn interface_name(&mut self, s: &Str<'_>) -> Option<String> {
        let bad = s.s.is_empty()
            || s.s.len() > 15
            || s.s.contains(['/', ' ', '\t', ':'])
            || s.s == "."
            || s.s == "..";
        if bad {
            self.d.span(
                &s.span,
                s.path.clone(),
                format!(
                    "{:?} is not a network interface name (1 to 15 characters, no '/', ':' or spaces)",
                    s.s
                ),
            );
            return None;
        }
        Some(s.s.to_string())
    }

    /// Each route-based connection has an interface of its own, never gateway.tun.
    fn check_interfaces(&mut self, gw: Option<&Gateway>) {
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut errs = Vec::new();
        for (name, span, path) in &self.interfaces {
            if gw.is_some_and(|g| g.tun == *name) {
                errs.push((
                    span.clone(),
                    path.clone(),
                    format!("interface {name:?} is gateway.tun; a route-based connection needs its own"),
                ));
            } else if let Some(first) = seen.get(name) {
                errs.push((
                    span.clone(),
                    path.clone(),
                    format!("interface {name:?} is also {first}'s; set a distinct `interface`"),
                ));
            } else {
                seen.insert(name.clone(), path.clone());
            }
        }
        for (span, path, msg) in errs {
            self.d.span(&span, path, msg);
        }
    }

    fn check_names(&mut self) {
        let mut first: HashMap<&str, usize> = HashMap::new();
        let mut dups = Vec::new();
        for (name, span, path, line) in &self.names {
            match first.get(name.as_str()) {
                Some(&l) => dups.push((
                    span.clone(),
                    path.clone(),
                    format!("duplicate connection name {name:?} (first defined at line {l})"),
                )),
                None => {
                    first.insert(name, *line);
                }
            }
        }
        for (span, path, msg) in dups {
            self.d.span(&span, path, msg);
        }
    }
}
