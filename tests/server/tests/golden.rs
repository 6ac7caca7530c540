//! Replays the exchanges recorded from the real backend (`tests/data/golden/rest.json` and
//! `ws.json`, or the directory in `QC_GOLDEN_DIR`) against the server over real sockets, and
//! compares every status, header, body and frame field by field, in order.
//!
//! The two recordings come from one scripted session: WebSocket traffic happened between
//! REST calls. The replay interleaves them where the recorded state requires (the history
//! must see the messages, the group history the group message, the refused image the
//! revoked permission, the disabled sender the disabled account).

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use quickchat_testserver::{Config, TestServer};
use support::client::{Http, Ws};
use support::ordered::V;

fn golden_dir() -> PathBuf {
    std::env::var_os("QC_GOLDEN_DIR").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../data/golden")),
        PathBuf::from,
    )
}

fn load(name: &str) -> V {
    let path = golden_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    V::parse(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

struct Replay {
    http: Http,
    ws_url: String,
    /// Placeholder (`<aliceId>`) → this run's value.
    bound: BTreeMap<String, String>,
    sockets: BTreeMap<String, Ws>,
    started: i64,
    failures: Vec<String>,
    exchanges_matched: usize,
    frames_matched: usize,
}

impl Replay {
    fn bind(&mut self, placeholder: &str, value: &str) {
        self.bound.insert(placeholder.to_owned(), value.to_owned());
    }

    /// Replaces every bound placeholder inside `text`.
    fn fill(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (placeholder, value) in &self.bound {
            out = out.replace(placeholder.as_str(), value);
        }
        out
    }

    fn fill_value(&self, value: &V) -> V {
        value.map_strings(&|s| self.fill(s))
    }

    /// Compares `actual` with the recorded `expected`: same shape, same keys in the same
    /// order, equal values, bound placeholders substituted, the others matched by form.
    fn compare(&self, expected: &V, actual: &V, path: &str, out: &mut Vec<String>) {
        match (expected, actual) {
            (V::Str(e), _)
                if e.starts_with('<') && e.ends_with('>') && !self.bound.contains_key(e) =>
            {
                if let Err(why) = self.check_form(e, actual) {
                    out.push(format!(
                        "{path}: expected {e}, got {} ({why})",
                        actual.to_text()
                    ));
                }
            }
            (V::Str(e), V::Str(a)) => {
                let e = self.fill(e);
                if &e != a {
                    out.push(format!("{path}: expected {e:?}, got {a:?}"));
                }
            }
            (V::Obj(e), V::Obj(a)) => {
                let ek: Vec<&str> = e.iter().map(|(k, _)| k.as_str()).collect();
                let ak: Vec<&str> = a.iter().map(|(k, _)| k.as_str()).collect();
                if ek != ak {
                    out.push(format!("{path}: keys {ak:?}, expected {ek:?}"));
                    return;
                }
                for ((key, ev), (_, av)) in e.iter().zip(a) {
                    self.compare(ev, av, &format!("{path}.{key}"), out);
                }
            }
            (V::Arr(e), V::Arr(a)) => {
                if e.len() != a.len() {
                    out.push(format!(
                        "{path}: {} items, expected {}: {}",
                        a.len(),
                        e.len(),
                        actual.to_text()
                    ));
                    return;
                }
                for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                    self.compare(ev, av, &format!("{path}[{i}]"), out);
                }
            }
            _ if expected == actual => {}
            _ => out.push(format!(
                "{path}: expected {}, got {}",
                expected.to_text(),
                actual.to_text()
            )),
        }
    }

    /// Whether `actual` has the form an unbound placeholder stands for.
    fn check_form(&self, placeholder: &str, actual: &V) -> Result<(), String> {
        match placeholder {
            "<uuid>" => {
                let s = actual.as_str().ok_or("not a string")?;
                let groups: Vec<&str> = s.split('-').collect();
                let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
                let hex = s
                    .chars()
                    .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
                (lens == [8, 4, 4, 4, 12] && hex && groups[2].starts_with('4'))
                    .then_some(())
                    .ok_or_else(|| "not a lower-case UUIDv4".to_owned())
            }
            "<timestamp>" => {
                let V::Num(n) = actual else {
                    return Err("not a number".into());
                };
                let ms = n.as_i64().ok_or("not an integer")?;
                // Allowed: from this run's start to two days ahead (expiry times).
                (self.started - 2_000..=now_ms() + 2 * 86_400_000)
                    .contains(&ms)
                    .then_some(())
                    .ok_or_else(|| "not a millisecond time of this run".to_owned())
            }
            "<jwt>" => {
                let s = actual.as_str().ok_or("not a string")?;
                let parts: Vec<&str> = s.split('.').collect();
                if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
                    return Err("not three dot-separated parts".into());
                }
                let payload = URL_SAFE_NO_PAD
                    .decode(parts[1])
                    .map_err(|e| e.to_string())?;
                let payload =
                    V::parse(&String::from_utf8_lossy(&payload)).map_err(|e| e.to_string())?;
                let V::Obj(members) = &payload else {
                    return Err("payload not an object".into());
                };
                let keys: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
                (keys == ["userId", "username", "iat", "exp"])
                    .then_some(())
                    .ok_or_else(|| format!("payload keys {keys:?}"))
            }
            "<link_code>" => {
                let s = actual.as_str().ok_or("not a string")?;
                (!s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                .then_some(())
                .ok_or_else(|| "not a URL-safe code".to_owned())
            }
            other => Err(format!("placeholder {other} was never bound")),
        }
    }

    async fn exchange(&mut self, exchange: &V) {
        let label = exchange
            .get("label")
            .and_then(V::as_str)
            .expect("label")
            .to_owned();
        let request = exchange.get("request").expect("request");
        let expected = exchange.get("response").expect("response");
        let method = request.get("method").and_then(V::as_str).expect("method");
        let path = self.fill(request.get("path").and_then(V::as_str).expect("path"));
        let auth = match request.get("auth") {
            Some(V::Str(a)) => Some(self.fill(a)),
            _ => None,
        };
        let body = match request.get("body") {
            None | Some(V::Null) => None,
            Some(V::Str(raw)) => Some(raw.clone()),
            Some(value) => Some(self.fill_value(value).to_text()),
        };
        let reply = self.http.send(method, &path, auth.as_deref(), body).await;

        let mut problems = Vec::new();
        let status = expected.get("status").and_then(|s| match s {
            V::Num(n) => n.as_u64(),
            _ => None,
        });
        if status != Some(u64::from(reply.status)) {
            problems.push(format!("status {}, expected {status:?}", reply.status));
        }
        if let Some(V::Str(ct)) = expected.get("contentType")
            && reply.header("content-type") != Some(ct.as_str())
        {
            problems.push(format!(
                "content-type {:?}, expected {ct:?}",
                reply.header("content-type")
            ));
        }
        if let Some(cors) = expected.get("cors") {
            let want = cors.as_str();
            if reply.header("access-control-allow-origin") != want {
                problems.push(format!(
                    "CORS origin {:?}, expected {want:?}",
                    reply.header("access-control-allow-origin")
                ));
            }
        }
        for (key, header) in [
            ("allowOrigin", "access-control-allow-origin"),
            ("allowMethods", "access-control-allow-methods"),
            ("allowHeaders", "access-control-allow-headers"),
        ] {
            if let Some(V::Str(want)) = expected.get(key)
                && reply.header(header) != Some(want.as_str())
            {
                problems.push(format!(
                    "{header} {:?}, expected {want:?}",
                    reply.header(header)
                ));
            }
        }
        let actual = V::parse(&reply.text);
        let plain_text =
            expected.get("contentType").and_then(V::as_str) != Some("application/json");
        match expected.get("body") {
            None => {}
            Some(_) if label == "register invalid json" => {
                // The one recorded message that is the JavaScript parser's own wording.
                match &actual {
                    Ok(V::Obj(members))
                        if members.len() == 1
                            && members[0].0 == "error"
                            && matches!(members[0].1, V::Str(_)) => {}
                    _ => problems.push(format!(
                        "expected {{\"error\": <string>}}, got {}",
                        reply.text
                    )),
                }
            }
            // Plain-text bodies (the 404 and 426 pages) are compared as text.
            Some(V::Str(text)) if plain_text && &reply.text != text => {
                problems.push(format!("body {:?}, expected {text:?}", reply.text));
            }
            Some(V::Str(_)) if plain_text => {}
            Some(body) => match &actual {
                Ok(actual) => self.compare(body, actual, "body", &mut problems),
                Err(e) => problems.push(format!("body is not JSON ({e}): {}", reply.text)),
            },
        }
        if problems.is_empty() {
            self.exchanges_matched += 1;
        } else {
            self.failures
                .push(format!("REST {label:?}:\n    {}", problems.join("\n    ")));
        }

        // Values later exchanges and frames refer to.
        let Ok(actual) = actual else { return };
        let field = |key: &str| actual.get(key).and_then(V::as_str).map(str::to_owned);
        // A register or login answer binds the user named `<xName>` in the request to its
        // id `<xId>` and its latest token `<xJwt>`.
        let role = request
            .get("body")
            .and_then(|b| b.get("username"))
            .and_then(V::as_str)
            .and_then(|name| name.strip_prefix('<')?.strip_suffix("Name>"))
            .map(str::to_owned);
        if let (Some(role), Some(id), Some(token)) = (role, field("id"), field("token")) {
            self.bind(&format!("<{role}Id>"), &id);
            self.bind(&format!("<{role}Jwt>"), &token);
        }
        if label == "create group"
            && let Some(id) = field("id")
        {
            self.bind("<groupId>", &id);
        }
        if label == "create invite"
            && let (Some(id), Some(code)) = (field("id"), field("link_code"))
        {
            self.bind("<inviteId>", &id);
            self.bind("<linkCode>", &code);
        }
    }

    /// Replays `frames[range]` (indices as in ws.json).
    async fn frames(&mut self, frames: &[V], range: std::ops::Range<usize>) {
        for (i, entry) in frames.iter().enumerate().take(range.end).skip(range.start) {
            let dir = entry.get("dir").and_then(V::as_str).expect("dir");
            let (from, to) = dir.split_once("->").expect("dir is FROM->TO");
            let what = format!("WS {dir} #{i}");
            if to == "server" {
                let text = match entry.get("frame").expect("frame") {
                    V::Str(raw) => raw.clone(),
                    frame => self.fill_value(frame).to_text(),
                };
                if !self.sockets.contains_key(from) {
                    let ws = Ws::connect(&self.ws_url).await;
                    self.sockets.insert(from.to_owned(), ws);
                }
                if let Some(ws) = self.sockets.get_mut(from) {
                    ws.send_text(&text).await;
                }
                self.frames_matched += 1;
                continue;
            }
            let Some(ws) = self.sockets.get_mut(to) else {
                self.failures
                    .push(format!("{what}: no open socket for {to}"));
                continue;
            };
            if matches!(entry.get("closed"), Some(V::Bool(true))) {
                match ws.closed().await {
                    Ok((before, _)) if before.is_empty() => self.frames_matched += 1,
                    Ok((before, _)) => self
                        .failures
                        .push(format!("{what}: frames before the close: {before:?}")),
                    Err(e) => self
                        .failures
                        .push(format!("{what}: socket not closed ({e:?})")),
                }
                self.sockets.remove(to);
                continue;
            }
            let expected = entry.get("frame").expect("frame");
            match ws.next_text().await {
                Ok(text) => {
                    let mut problems = Vec::new();
                    match V::parse(&text) {
                        Ok(actual) => self.compare(expected, &actual, "frame", &mut problems),
                        Err(e) => problems.push(format!("not JSON ({e}): {text}")),
                    }
                    if problems.is_empty() {
                        self.frames_matched += 1;
                    } else {
                        self.failures
                            .push(format!("{what}:\n    {}", problems.join("\n    ")));
                    }
                }
                Err(e) => self.failures.push(format!(
                    "{what}: expected {}, got {e:?}",
                    expected.to_text()
                )),
            }
        }
        self.assert_quiet().await;
    }

    /// No socket has a frame the recording does not show: two rounds of barriers (the
    /// first proves every socket's frames were handled, the second flushes what that
    /// handling queued to other sockets).
    async fn assert_quiet(&mut self) {
        for round in 0..2 {
            for (name, ws) in &mut self.sockets {
                let extra = ws.barrier().await;
                if !extra.is_empty() {
                    self.failures.push(format!(
                        "WS {name}: unexpected frames (round {round}): {extra:?}"
                    ));
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_matches_the_recorded_backend() {
    let rest = load("rest.json");
    let ws = load("ws.json");
    let Some(V::Arr(exchanges)) = rest.get("exchanges") else {
        panic!("rest.json has no exchanges")
    };
    let Some(V::Arr(frames)) = ws.get("frames") else {
        panic!("ws.json has no frames")
    };

    // The backend's bcrypt cost, as recorded.
    let server = TestServer::start(Config::default())
        .await
        .expect("server starts");
    let started = now_ms();
    let suffix = format!("{:04x}", started % 0x10000);
    let mut replay = Replay {
        http: Http::new(&server.base_url()),
        ws_url: server.ws_url(),
        bound: BTreeMap::new(),
        sockets: BTreeMap::new(),
        started,
        failures: Vec::new(),
        exchanges_matched: 0,
        frames_matched: 0,
    };
    for who in ["alice", "bob", "carol", "admin"] {
        replay.bind(&format!("<{who}Name>"), &format!("{who}_{suffix}"));
    }

    // Where the WebSocket part of the session happened relative to the REST calls.
    let dir_of = |f: &V| {
        f.get("dir")
            .and_then(V::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let kind_of = |f: &V| {
        f.get("frame")
            .and_then(|x| x.get("type"))
            .and_then(V::as_str)
            .map(str::to_owned)
    };
    let group_start = frames
        .iter()
        .position(|f| kind_of(f).as_deref() == Some("group_message"))
        .expect("a group message frame");
    let reconnect_start = frames
        .iter()
        .position(|f| dir_of(f).starts_with("alice2"))
        .expect("an alice2 frame");
    let mut hooks_run = 0;
    for exchange in exchanges {
        match exchange.get("label").and_then(V::as_str) {
            Some("history alice<->bob") => {
                replay.frames(frames, 0..group_start).await;
                hooks_run += 1;
            }
            Some("group messages") => {
                replay.frames(frames, group_start..reconnect_start).await;
                hooks_run += 1;
            }
            Some("admin users") => {
                let admin = replay.fill("<adminName>");
                server.make_admin(&admin).await.expect("make admin");
                hooks_run += 1;
            }
            Some("login disabled carol") => {
                replay.frames(frames, reconnect_start..frames.len()).await;
                hooks_run += 1;
            }
            _ => {}
        }
        replay.exchange(exchange).await;
    }
    assert_eq!(
        hooks_run, 4,
        "the recording's labels changed: the interleaving must be revised"
    );

    println!(
        "golden replay: {}/{} REST exchanges, {}/{} WebSocket frames matched",
        replay.exchanges_matched,
        exchanges.len(),
        replay.frames_matched,
        frames.len()
    );
    assert!(
        replay.failures.is_empty(),
        "{} mismatches:\n{}",
        replay.failures.len(),
        replay.failures.join("\n")
    );
    assert_eq!(replay.exchanges_matched, exchanges.len());
    assert_eq!(replay.frames_matched, frames.len());
}
