//! Calling the global `fetch` and reading what it resolves to, without trusting either.
//!
//! `fetch` is often not the browser's: tests replace it with a mock that resolves to a plain
//! object (`{ok: true, json: async () => bundle}`, no `status`, no `Response`) or rejects;
//! under jsdom the `Response` may come from another realm. So the answer is read by what it
//! has, not by its class: `status` (or `ok`), then the body from the stream of a real
//! `Response` (capped: the server does not decide how much memory it takes), else from
//! `text()` or `json()`. Nothing the function returns or throws can stop the module: every
//! failure is a [`TransportError`].

use js_sys::{Object, Promise, Reflect};
use quickchat_core::transport::{HttpResponse, TransportError};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use crate::realm;
use crate::transport::js_error_text;

/// One request through the global `fetch`: `url`, and `init` as `fetch` takes it.
pub(crate) async fn fetch(
    url: &str,
    init: &Object,
    limit: usize,
    path: &str,
) -> Result<HttpResponse, TransportError> {
    let global = js_sys::global();
    let fetch = realm::function(&realm::field(&global, "fetch")).ok_or_else(|| {
        TransportError::Connect {
            detail: "this environment has no fetch".into(),
        }
    })?;
    let connect = |e: JsValue| TransportError::Connect {
        detail: js_error_text(&e),
    };
    let returned = fetch
        .call2(&global, &JsValue::from_str(url), init)
        .map_err(connect)?;
    // `Promise.resolve` takes a promise of any realm, a thenable, or a plain value.
    let response = JsFuture::from(Promise::resolve(&returned))
        .await
        .map_err(connect)?;
    let status = status_of(&response)?;
    let body = read_body(&response, limit, path).await?;
    Ok(HttpResponse { status, body })
}

/// The answer's status: `status` if it is an HTTP status, else 200 or 500 from `ok`.
fn status_of(response: &JsValue) -> Result<u16, TransportError> {
    let not_a_response = || TransportError::Io {
        detail: "fetch resolved to something that is not a response (no status or ok)".into(),
    };
    if !response.is_object() {
        return Err(not_a_response());
    }
    let status = realm::field(response, "status")
        .as_f64()
        .filter(|s| s.fract() == 0.0 && (100.0..=599.0).contains(s));
    match (status, realm::field(response, "ok").as_bool()) {
        // In range, integral: the conversion is exact.
        (Some(status), _) => Ok(status as u16),
        (None, Some(true)) => Ok(200),
        (None, Some(false)) => Ok(500),
        (None, None) => Err(not_a_response()),
    }
}

/// The answer's body as text, failing past `limit` bytes.
async fn read_body(response: &JsValue, limit: usize, path: &str) -> Result<String, TransportError> {
    let too_large = || TransportError::ResponseTooLarge {
        path: path.to_string(),
        limit,
    };
    let io = |e: JsValue| TransportError::Io {
        detail: js_error_text(&e),
    };
    if announced_length(response) > u64::try_from(limit).unwrap_or(u64::MAX) {
        return Err(too_large());
    }
    let stream = realm::field(response, "body");
    if realm::function(&realm::field(&stream, "getReader")).is_some() {
        return read_stream(&stream, limit, path).await;
    }
    let text = if let Some(called) = realm::call_method(response, "text") {
        let value = JsFuture::from(Promise::resolve(&called.map_err(io)?))
            .await
            .map_err(io)?;
        value.as_string().unwrap_or_default()
    } else if let Some(called) = realm::call_method(response, "json") {
        let value = JsFuture::from(Promise::resolve(&called.map_err(io)?))
            .await
            .map_err(io)?;
        if value.is_undefined() {
            String::new()
        } else {
            js_sys::JSON::stringify(&value)
                .map_err(io)?
                .as_string()
                .unwrap_or_default()
        }
    } else {
        String::new()
    };
    if text.len() > limit {
        return Err(too_large());
    }
    Ok(text)
}

/// `Content-Length` from the answer's headers, when they can say (0 otherwise).
fn announced_length(response: &JsValue) -> u64 {
    let headers = realm::field(response, "headers");
    let Some(get) = realm::function(&realm::field(&headers, "get")) else {
        return 0;
    };
    get.call1(&headers, &JsValue::from_str("content-length"))
        .ok()
        .and_then(|value| value.as_string())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .unwrap_or(0)
}

/// Reads a `ReadableStream` of byte chunks chunk by chunk, cancelling it past `limit`, so
/// an endless body costs at most `limit` plus one chunk. Bytes that are not UTF-8 are
/// replaced, as `Response.text()` does.
async fn read_stream(stream: &JsValue, limit: usize, path: &str) -> Result<String, TransportError> {
    let io = |e: JsValue| TransportError::Io {
        detail: js_error_text(&e),
    };
    let reader = match realm::call_method(stream, "getReader") {
        Some(reader) => reader.map_err(io)?,
        None => return Ok(String::new()),
    };
    let mut body = Vec::new();
    loop {
        let step = match realm::call_method(&reader, "read") {
            Some(step) => step.map_err(io)?,
            None => return Err(io(JsValue::from_str("the body's reader has no read()"))),
        };
        let step = JsFuture::from(Promise::resolve(&step)).await.map_err(io)?;
        if realm::field(&step, "done").as_bool().unwrap_or(true) {
            break;
        }
        let chunk = realm::uint8_array(&realm::field(&step, "value"))
            .ok_or_else(|| io(JsValue::from_str("a body chunk is not a byte array")))?;
        let len = usize::try_from(chunk.length()).unwrap_or(usize::MAX);
        if body.len().saturating_add(len) > limit {
            // Stops the download; how the cancellation ends does not matter.
            let _ = realm::call_method(&reader, "cancel");
            return Err(TransportError::ResponseTooLarge {
                path: path.to_string(),
                limit,
            });
        }
        let start = body.len();
        body.resize(start + len, 0);
        chunk.copy_to(&mut body[start..]);
    }
    Ok(match String::from_utf8(body) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// The `init` argument of `fetch`: method, headers and body as plain JavaScript values.
pub(crate) fn init(method: &str, headers: &[(&str, &str)], body: Option<&str>) -> Object {
    let init = Object::new();
    let header_object = Object::new();
    // Setting properties on fresh plain objects cannot fail.
    for (name, value) in headers {
        let _ = Reflect::set(
            &header_object,
            &JsValue::from_str(name),
            &JsValue::from_str(value),
        );
    }
    let _ = Reflect::set(&init, &"method".into(), &JsValue::from_str(method));
    let _ = Reflect::set(&init, &"headers".into(), &header_object);
    if let Some(body) = body {
        let _ = Reflect::set(&init, &"body".into(), &JsValue::from_str(body));
    }
    init
}
