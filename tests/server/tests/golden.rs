//! Replays the session recorded from the real backend (`tests/data/golden/timeline.json`,
//! or the one in the directory `QC_GOLDEN_DIR`) against the server over real sockets, step
//! by step in the recorded order, and compares every status, header, body and frame field
//! by field. The replay interprets the recording's format (golden/README.md) and knows
//! nothing of this particular session: its users, sockets, labels and length come from
//! the file.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

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
    /// Steps that matched the recording.
    matched: usize,
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
            .unwrap_or("(no label)")
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
        // A body that is not JSON is answered with the JavaScript parser's own message,
        // which no other parser words the same way.
        let invalid_json_sent = body.as_deref().is_some_and(|b| V::parse(b).is_err());
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
            Some(_) if invalid_json_sent => match &actual {
                Ok(V::Obj(members))
                    if members.len() == 1
                        && members[0].0 == "error"
                        && matches!(members[0].1, V::Str(_)) => {}
                _ => problems.push(format!(
                    "expected {{\"error\": <string>}}, got {}",
                    reply.text
                )),
            },
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
            self.matched += 1;
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
        // A creation (201 with a new `id`) binds `<xId>` for the resource the path names:
        // `POST /api/groups` → `<groupId>`, `POST /api/groups/{id}/invite` → `<inviteId>`.
        let created_id = matches!(
            expected.get("body").and_then(|b| b.get("id")),
            Some(V::Str(id)) if id == "<uuid>"
        );
        if method == "POST"
            && reply.status == 201
            && created_id
            && let (Some(resource), Some(id)) = (created_resource(&path), field("id"))
        {
            self.bind(&format!("<{resource}Id>"), &id);
        }
        // Other server-made values a later request names: `link_code` recorded as
        // `<link_code>` is `<linkCode>` in requests.
        if let Some(V::Obj(members)) = expected.get("body") {
            for (key, recorded) in members {
                if recorded.as_str() == Some(&format!("<{key}>"))
                    && key.contains('_')
                    && let Some(value) = field(key)
                {
                    self.bind(&format!("<{}>", camel_case(key)), &value);
                }
            }
        }
    }

    /// Replays one WebSocket step: a frame a socket sends (the socket opens at its first
    /// one), a frame a socket must receive next, or the close of a socket.
    async fn frame(&mut self, step: usize, entry: &V) {
        let dir = entry.get("dir").and_then(V::as_str).expect("dir");
        let (from, to) = dir.split_once("->").expect("dir is FROM->TO");
        let what = format!("step {step}: WS {dir}");
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
            self.matched += 1;
            return;
        }
        let Some(ws) = self.sockets.get_mut(to) else {
            self.failures
                .push(format!("{what}: no open socket for {to}"));
            return;
        };
        if matches!(entry.get("closed"), Some(V::Bool(true))) {
            match ws.closed().await {
                Ok((before, _)) if before.is_empty() => self.matched += 1,
                Ok((before, _)) => self
                    .failures
                    .push(format!("{what}: frames before the close: {before:?}")),
                Err(e) => self
                    .failures
                    .push(format!("{what}: socket not closed ({e:?})")),
            }
            self.sockets.remove(to);
            return;
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
                    self.matched += 1;
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

    /// A step done outside the API.
    async fn setup(&mut self, step: usize, setup: &V, server: &TestServer) {
        let action = setup.get("action").and_then(V::as_str);
        let user = setup.get("user").and_then(V::as_str).map(|u| self.fill(u));
        match (action, user) {
            (Some("make_admin"), Some(user)) => match server.make_admin(&user).await {
                Ok(()) => self.matched += 1,
                Err(e) => self
                    .failures
                    .push(format!("step {step}: make_admin {user}: {e}")),
            },
            _ => self.failures.push(format!(
                "step {step}: unknown setup step {}",
                setup.to_text()
            )),
        }
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

/// `POST /api/groups` → `group`, `POST /api/groups/{id}/invite` → `invite`: the resource a
/// creation makes, named by the path's last segment (singular).
fn created_resource(path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or_default();
    let last = path.rsplit('/').next().filter(|s| !s.is_empty())?;
    Some(last.strip_suffix('s').unwrap_or(last).to_owned())
}

/// `link_code` → `linkCode`.
fn camel_case(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Every `<xName>` placeholder of the recording: the users whose names this run chooses.
fn name_placeholders(value: &V, out: &mut std::collections::BTreeSet<String>) {
    match value {
        V::Str(s) => {
            let mut rest = s.as_str();
            while let Some(start) = rest.find('<') {
                let Some(len) = rest[start..].find('>') else {
                    break;
                };
                let candidate = &rest[start..=start + len];
                if candidate.ends_with("Name>")
                    && candidate[1..candidate.len() - 5]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric())
                {
                    out.insert(candidate.to_owned());
                }
                rest = &rest[start + len + 1..];
            }
        }
        V::Arr(items) => items.iter().for_each(|i| name_placeholders(i, out)),
        V::Obj(members) => members.iter().for_each(|(_, v)| name_placeholders(v, out)),
        _ => {}
    }
}

/// The steps of `kind` (`rest` or `ws`) of the timeline, in order.
fn view<'a>(steps: &'a [V], kind: &str) -> Vec<&'a V> {
    steps.iter().filter_map(|step| step.get(kind)).collect()
}

#[test]
fn rest_and_ws_recordings_are_views_of_the_timeline() {
    let timeline = load("timeline.json");
    let Some(V::Arr(steps)) = timeline.get("steps") else {
        panic!("timeline.json has no steps")
    };
    for (file, list, kind) in [
        ("rest.json", "exchanges", "rest"),
        ("ws.json", "frames", "ws"),
    ] {
        let Some(V::Arr(items)) = load(file).get(list).cloned() else {
            panic!("{file} has no {list}")
        };
        let from_timeline = view(steps, kind);
        assert_eq!(items.len(), from_timeline.len(), "{file}: {list} count");
        for (i, (item, step)) in items.iter().zip(from_timeline).enumerate() {
            assert_eq!(item, step, "{file}: {list}[{i}] differs from the timeline");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_matches_the_recorded_backend() {
    let timeline = load("timeline.json");
    let Some(V::Arr(steps)) = timeline.get("steps") else {
        panic!("timeline.json has no steps")
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
        matched: 0,
    };
    let mut names = std::collections::BTreeSet::new();
    name_placeholders(&timeline, &mut names);
    for placeholder in names {
        let role = &placeholder[1..placeholder.len() - 5];
        replay.bind(&placeholder, &format!("{role}_{suffix}"));
    }

    let mut after_frames = false;
    for (i, step) in steps.iter().enumerate() {
        if let Some(frame) = step.get("ws") {
            replay.frame(i, frame).await;
            after_frames = true;
            continue;
        }
        // What the sockets sent is handled, and nothing unrecorded arrived, before the
        // state is looked at another way.
        if after_frames {
            replay.assert_quiet().await;
            after_frames = false;
        }
        if let Some(exchange) = step.get("rest") {
            replay.exchange(exchange).await;
        } else if let Some(setup) = step.get("setup") {
            replay.setup(i, setup, &server).await;
        } else {
            replay
                .failures
                .push(format!("step {i}: unknown kind {}", step.to_text()));
        }
    }
    if after_frames {
        replay.assert_quiet().await;
    }

    println!(
        "golden replay: {}/{} steps matched ({} REST exchanges, {} WebSocket frames)",
        replay.matched,
        steps.len(),
        view(steps, "rest").len(),
        view(steps, "ws").len(),
    );
    assert!(
        replay.failures.is_empty(),
        "{} mismatches:\n{}",
        replay.failures.len(),
        replay.failures.join("\n")
    );
    assert_eq!(replay.matched, steps.len());
}
