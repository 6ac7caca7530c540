//! JSON-RPC 2.0 as the daemon speaks it: one JSON value per line, each a request, a
//! notification or a batch (an array of them).
//!
//! Methods are the commands: `send`, `history`, `users`, `whoami`, `fingerprint`, `verify`,
//! `read`, `typing`, … with the command's arguments as named params in camelCase (`{"peer":
//! "bob", "text": "hi"}`), and `groups.<command>` / `admin.<command>` for the subcommands
//! (`groups.send`). A command's result is what it would have printed: `{"results": [...
//! the stdout lines as JSON values, plain-text lines as strings], "notes": [...],
//! "warnings": [...]}`. `subscribe` (params `{"types": [...], "markRead": bool}`) answers
//! `{"subscribed": true, ...}` and then sends every event as a notification `{"jsonrpc":
//! "2.0", "method": "event", "params": <the event as listen prints it>}`.
//!
//! Errors: the JSON-RPC codes for malformed input (-32700 parse error, -32600 invalid
//! request, -32601 no such method, -32602 invalid params), and for a command that failed
//! the codes of [`ErrorCode`], with the message the command line prints and
//! `data.kind` naming the error.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::cli::Command;
use crate::error::CliError;

/// The `jsonrpc` member of every message.
pub(crate) const VERSION: &str = "2.0";

/// The method of event notifications.
pub(crate) const EVENT_METHOD: &str = "event";

/// The method that starts an event subscription.
pub(crate) const SUBSCRIBE_METHOD: &str = "subscribe";

/// JSON-RPC's codes for bad input.
pub(crate) mod codes {
    /// The line is not JSON.
    pub(crate) const PARSE_ERROR: i64 = -32700;
    /// Not a JSON-RPC 2.0 request.
    pub(crate) const INVALID_REQUEST: i64 = -32600;
    /// No such method.
    pub(crate) const METHOD_NOT_FOUND: i64 = -32601;
    /// The params do not fit the method.
    pub(crate) const INVALID_PARAMS: i64 = -32602;
    /// The daemon failed inside.
    pub(crate) const INTERNAL_ERROR: i64 = -32603;
}

/// The codes of a failed command (outside JSON-RPC's reserved range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i64)]
pub(crate) enum ErrorCode {
    /// An argument is missing or not acceptable.
    InvalidArgument = 1,
    /// No user or group has that name (or several groups do).
    NotFound = 2,
    /// Nobody is logged in, or the login expired.
    NotLoggedIn = 3,
    /// The server cannot be reached or the connection is down.
    Unreachable = 4,
    /// Waiting took too long.
    Timeout = 5,
    /// The server refused (an error status, an error frame).
    Refused = 6,
    /// Keys or identities stand in the way (the account is in use elsewhere, a peer's
    /// key changed, a peer has no keys).
    Keys = 7,
    /// The store failed.
    Store = 8,
    /// Anything else.
    Other = 9,
}

/// The `error` member of a response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ErrorObject {
    /// The code.
    pub code: i64,
    /// What went wrong, worded for people.
    pub message: String,
    /// More: `kind`, and for a command what it printed before failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl ErrorObject {
    /// An error with a code and a message.
    pub(crate) fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }
}

/// A response: `result` or `error`.
#[derive(Debug, Serialize)]
pub(crate) struct Response {
    jsonrpc: &'static str,
    id: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorObject>,
}

impl Response {
    /// A successful answer to request `id`.
    pub(crate) fn result(id: Value, result: Value) -> Self {
        Self {
            jsonrpc: VERSION,
            id,
            result: Some(result),
            error: None,
        }
    }

    /// A failed answer to request `id` (`null` when it could not be read).
    pub(crate) fn error(id: Value, error: ErrorObject) -> Self {
        Self {
            jsonrpc: VERSION,
            id,
            result: None,
            error: Some(error),
        }
    }
}

/// A request read from a line, or why it is not one (with the id, when it could be read).
#[derive(Debug, PartialEq)]
pub(crate) struct Call {
    /// `None` for a notification (no answer is sent).
    pub id: Option<Value>,
    /// The method.
    pub method: String,
    /// The params (`None` when absent).
    pub params: Option<Value>,
}

/// Reads one request object.
pub(crate) fn parse_call(value: Value) -> Result<Call, (Value, ErrorObject)> {
    let Value::Object(mut object) = value else {
        return Err((
            Value::Null,
            ErrorObject::new(codes::INVALID_REQUEST, "a request must be a JSON object"),
        ));
    };
    let id = object.remove("id");
    let reply_id = id.clone().unwrap_or(Value::Null);
    if !matches!(
        id,
        None | Some(Value::Null | Value::String(_) | Value::Number(_))
    ) {
        return Err((
            Value::Null,
            ErrorObject::new(codes::INVALID_REQUEST, "id must be a string or a number"),
        ));
    }
    if object.get("jsonrpc").and_then(Value::as_str) != Some(VERSION) {
        return Err((
            reply_id,
            ErrorObject::new(codes::INVALID_REQUEST, "jsonrpc must be \"2.0\""),
        ));
    }
    let Some(Value::String(method)) = object.remove("method") else {
        return Err((
            reply_id,
            ErrorObject::new(codes::INVALID_REQUEST, "method must be a string"),
        ));
    };
    let params = object.remove("params");
    if !matches!(params, None | Some(Value::Object(_) | Value::Null)) {
        return Err((
            reply_id,
            ErrorObject::new(
                codes::INVALID_PARAMS,
                "params must be an object of named arguments",
            ),
        ));
    }
    Ok(Call { id, method, params })
}

/// The command a method call names.
pub(crate) fn command(method: &str, params: Option<Value>) -> Result<Command, ErrorObject> {
    let (outer, inner) = match method.split_once('.') {
        Some((outer @ ("groups" | "admin"), inner)) => (outer, Some(inner)),
        Some(_) => return Err(no_such_method(method)),
        None if matches!(method, "groups" | "admin") => return Err(no_such_method(method)),
        None => (method, None),
    };
    if matches!(outer, "listen" | "daemon") {
        return Err(ErrorObject::new(
            codes::METHOD_NOT_FOUND,
            format!("{method} is not a method here: use \"{SUBSCRIBE_METHOD}\" for events"),
        ));
    }
    let params = params.filter(|p| !p.is_null());
    let attempt = |params: Option<Value>| {
        let mut call = Map::new();
        call.insert("method".into(), (inner.unwrap_or(outer)).into());
        if let Some(params) = params {
            call.insert("params".into(), params);
        }
        let call = match inner {
            Some(_) => json!({ "method": outer, "params": Value::Object(call) }),
            None => Value::Object(call),
        };
        serde_json::from_value::<Command>(call)
    };
    // A command without arguments takes no params; one with arguments takes an object
    // (`{}` when every argument is optional).
    let empty = params
        .as_ref()
        .is_none_or(|p| p.as_object().is_some_and(Map::is_empty));
    // Of two failed attempts, the error that names a missing argument is the one to show:
    // the one with an object of params.
    let result = match attempt(params.clone()) {
        Ok(command) => Ok(command),
        Err(first) if empty && params.is_some() => attempt(None).map_err(|_| first),
        Err(_) if params.is_none() => attempt(Some(Value::Object(Map::new()))),
        Err(e) => Err(e),
    };
    result.map_err(|e| {
        let text = e.to_string();
        if text.contains("unknown variant") {
            no_such_method(method)
        } else {
            ErrorObject::new(
                codes::INVALID_PARAMS,
                format!("invalid params for {method}: {text}"),
            )
        }
    })
}

fn no_such_method(method: &str) -> ErrorObject {
    ErrorObject::new(
        codes::METHOD_NOT_FOUND,
        format!(
            "no method {method:?}: the methods are the commands of `quickchat --help` (groups.<command>, admin.<command> for those), and \"{SUBSCRIBE_METHOD}\""
        ),
    )
}

/// The method and params of a command (the other way round).
pub(crate) fn method_of(command: &Command) -> Result<(String, Option<Value>), CliError> {
    let value = serde_json::to_value(command)
        .map_err(|e| CliError::Other(format!("cannot send this command to the daemon: {e}")))?;
    let method = value
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let params = value.get("params").cloned();
    if matches!(method.as_str(), "groups" | "admin") {
        let inner = params.unwrap_or(Value::Null);
        let sub = inner
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return Ok((format!("{method}.{sub}"), inner.get("params").cloned()));
    }
    Ok((method, params))
}

/// A request line.
pub(crate) fn request(id: u64, method: &str, params: Option<Value>) -> String {
    let mut object = Map::new();
    object.insert("jsonrpc".into(), VERSION.into());
    object.insert("id".into(), id.into());
    object.insert("method".into(), method.into());
    if let Some(params) = params {
        object.insert("params".into(), params);
    }
    Value::Object(object).to_string()
}

/// An event notification line.
pub(crate) fn event_notification(event: &Value) -> String {
    json!({ "jsonrpc": VERSION, "method": EVENT_METHOD, "params": event }).to_string()
}

impl CliError {
    /// The code and `data.kind` this error has as a JSON-RPC error.
    pub(crate) fn rpc_code(&self) -> (ErrorCode, &'static str) {
        use quickchat::ClientError as E;
        let client = |e: &E| -> (ErrorCode, &'static str) {
            match e {
                E::NotLoggedIn => (ErrorCode::NotLoggedIn, "not_logged_in"),
                E::SessionExpired => (ErrorCode::NotLoggedIn, "session_expired"),
                E::UnknownUser { .. } => (ErrorCode::NotFound, "unknown_user"),
                E::InvalidInput { .. } => (ErrorCode::InvalidArgument, "invalid_input"),
                E::NotConnected => (ErrorCode::Unreachable, "not_connected"),
                e if e.is_unreachable() => (ErrorCode::Unreachable, "unreachable"),
                E::Api(_) | E::Refused { .. } => (ErrorCode::Refused, "refused"),
                E::KeysInUseElsewhere { .. } => (ErrorCode::Keys, "keys_in_use_elsewhere"),
                E::StoreBelongsToAnotherUser { .. } => {
                    (ErrorCode::Keys, "store_belongs_to_another_user")
                }
                E::PeerHasNoKeys { .. } => (ErrorCode::Keys, "peer_has_no_keys"),
                E::Session(_) | E::Account(_) | E::Prekeys(_) | E::Encoding(_) => {
                    (ErrorCode::Keys, "keys")
                }
                E::Store(_) => (ErrorCode::Store, "store"),
                _ => (ErrorCode::Other, "other"),
            }
        };
        match self {
            CliError::Missing(_) => (ErrorCode::InvalidArgument, "missing"),
            CliError::Invalid(_) => (ErrorCode::InvalidArgument, "invalid"),
            CliError::ReadFile { .. } => (ErrorCode::InvalidArgument, "read_file"),
            CliError::WriteFile { .. } => (ErrorCode::InvalidArgument, "write_file"),
            CliError::UnknownGroup(_) => (ErrorCode::NotFound, "unknown_group"),
            CliError::AmbiguousGroup { .. } => (ErrorCode::NotFound, "ambiguous_group"),
            CliError::Connect(_) => (ErrorCode::Unreachable, "connect"),
            CliError::Timeout(_) => (ErrorCode::Timeout, "timeout"),
            CliError::Refused(_) => (ErrorCode::Refused, "refused"),
            CliError::OpenStore { .. } => (ErrorCode::Store, "open_store"),
            CliError::Client(e) | CliError::Hinted { source: e, .. } => client(e),
            CliError::Native(quickchat::Error::Client(e)) => client(e),
            CliError::Native(quickchat::Error::Store(_)) => (ErrorCode::Store, "store"),
            CliError::Native(quickchat::Error::Timeout(_)) => (ErrorCode::Timeout, "timeout"),
            CliError::Native(_) => (ErrorCode::Other, "other"),
            CliError::Output(_) | CliError::Other(_) | CliError::Daemon(_) => {
                (ErrorCode::Other, "other")
            }
            CliError::Remote { .. } => (ErrorCode::Other, "remote"),
        }
    }

    /// This error as a JSON-RPC error object (`data.kind`, `data.httpStatus` for an error
    /// answer of the server).
    pub(crate) fn to_rpc(&self) -> ErrorObject {
        let (code, kind) = self.rpc_code();
        let mut data = Map::new();
        data.insert("kind".into(), kind.into());
        let status = match self {
            CliError::Client(e) | CliError::Hinted { source: e, .. } => match e {
                quickchat::ClientError::Api(api) => api.status(),
                _ => None,
            },
            _ => None,
        };
        if let Some(status) = status {
            data.insert("httpStatus".into(), status.into());
        }
        // The SDK's stable code, as the other languages' errors carry it.
        if let CliError::Client(e) | CliError::Hinted { source: e, .. } = self {
            data.insert("code".into(), e.code().into_owned().into());
        }
        ErrorObject {
            code: code as i64,
            message: self.to_string(),
            data: Some(Value::Object(data)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parsed(args: &[&str]) -> Command {
        let mut argv = vec!["quickchat"];
        argv.extend_from_slice(args);
        crate::cli::Cli::try_parse_from(argv).unwrap().command
    }

    fn round_trip(args: &[&str]) -> (String, Option<Value>) {
        let command = parsed(args);
        let (method, params) = method_of(&command).unwrap();
        let back = super::command(&method, params.clone()).unwrap();
        assert_eq!(format!("{back:?}"), format!("{command:?}"), "{method}");
        (method, params)
    }

    #[test]
    fn commands_map_to_methods_and_back() {
        let (method, params) = round_trip(&["send", "bob", "hi"]);
        assert_eq!(method, "send");
        assert_eq!(params.unwrap()["peer"], "bob");
        assert_eq!(round_trip(&["whoami"]), ("whoami".into(), None));
        let (method, params) = round_trip(&["groups", "revoke-invite", "Team", "inv1"]);
        assert_eq!(method, "groups.revoke-invite");
        assert_eq!(params.unwrap()["inviteId"], "inv1");
        round_trip(&["history", "bob", "--limit", "3", "--local"]);
        round_trip(&["verify", "bob", "--method", "qr_code"]);
        round_trip(&["typing", "bob", "on"]);
        round_trip(&["read", "bob", "--id", "m1"]);
        round_trip(&["admin", "images", "bob", "off"]);
        round_trip(&["users", "--no-presence"]);
        round_trip(&["fingerprint"]);
    }

    #[test]
    fn optional_arguments_may_be_left_out_and_params_may_be_empty() {
        let history = command("history", Some(json!({"target": "bob"}))).unwrap();
        assert!(matches!(
            history,
            Command::History {
                limit: 50,
                local: false,
                ..
            }
        ));
        assert!(matches!(
            command("whoami", Some(json!({}))).unwrap(),
            Command::Whoami
        ));
        assert!(matches!(
            command("users", None).unwrap(),
            Command::Users { no_presence: false }
        ));
        assert!(matches!(
            command("fingerprint", Some(Value::Null)).unwrap(),
            Command::Fingerprint { peer: None }
        ));
    }

    #[test]
    fn bad_calls_get_the_json_rpc_codes() {
        assert_eq!(
            command("nope", None).unwrap_err().code,
            codes::METHOD_NOT_FOUND
        );
        assert_eq!(
            command("groups.nope", None).unwrap_err().code,
            codes::METHOD_NOT_FOUND
        );
        assert_eq!(
            command("listen", None).unwrap_err().code,
            codes::METHOD_NOT_FOUND
        );
        assert_eq!(
            command("send", Some(json!({"text": "no peer"})))
                .unwrap_err()
                .code,
            codes::INVALID_PARAMS
        );
        for params in [None, Some(json!({}))] {
            let error = command("send", params).unwrap_err();
            assert_eq!(error.code, codes::INVALID_PARAMS);
            assert!(error.message.contains("missing field `peer`"), "{error:?}");
        }
        let (id, error) =
            parse_call(json!({"jsonrpc": "1.0", "id": 7, "method": "x"})).unwrap_err();
        assert_eq!((id, error.code), (json!(7), codes::INVALID_REQUEST));
        let (_, error) = parse_call(json!([1])).unwrap_err();
        assert_eq!(error.code, codes::INVALID_REQUEST);
        let (_, error) =
            parse_call(json!({"jsonrpc": "2.0", "id": 1, "method": "send", "params": [1]}))
                .unwrap_err();
        assert_eq!(error.code, codes::INVALID_PARAMS);
        let call = parse_call(json!({"jsonrpc": "2.0", "method": "whoami"})).unwrap();
        assert_eq!(call.id, None);
    }

    #[test]
    fn the_password_travels_but_never_shows_in_debug() {
        let login = command(
            "login",
            Some(json!({"username": "alice", "password": "pw-s3cret"})),
        )
        .unwrap();
        assert!(!format!("{login:?}").contains("pw-s3cret"));
        let Command::Login { password, .. } = &login else {
            panic!("login");
        };
        assert_eq!(
            password
                .password
                .as_ref()
                .map(crate::secret::Secret::expose),
            Some("pw-s3cret")
        );
    }
}
