//! Reading a `fetch` answer's body without letting the server decide how much memory it
//! takes.

use js_sys::{Reflect, Uint8Array};
use quickchat_core::transport::TransportError;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::transport::js_error_text;

/// The body of `response`, failing as soon as it grows past `limit` bytes: checked against
/// `Content-Length` first, then chunk by chunk as the stream delivers them (the download is
/// cancelled past the limit), so an endless body costs at most `limit` plus one chunk.
/// Bytes that are not UTF-8 are replaced, as `Response.text()` does.
pub(crate) async fn read_capped(
    response: &gloo_net::http::Response,
    limit: usize,
    path: &str,
) -> Result<String, TransportError> {
    let too_large = || TransportError::ResponseTooLarge {
        path: path.to_string(),
        limit,
    };
    let io = |e: JsValue| TransportError::Io {
        detail: js_error_text(&e),
    };
    let announced = response
        .headers()
        .get("content-length")
        .and_then(|value| value.trim().parse::<u64>().ok())
        .unwrap_or(0);
    if announced > u64::try_from(limit).unwrap_or(u64::MAX) {
        return Err(too_large());
    }
    let Some(stream) = response.body() else {
        return Ok(String::new());
    };
    let reader: web_sys::ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut body = Vec::new();
    loop {
        let step = JsFuture::from(reader.read()).await.map_err(io)?;
        let done = Reflect::get(&step, &"done".into())
            .map_err(io)?
            .as_bool()
            .unwrap_or(true);
        if done {
            break;
        }
        let chunk: Uint8Array = Reflect::get(&step, &"value".into())
            .map_err(io)?
            .dyn_into()
            .map_err(io)?;
        let len = usize::try_from(chunk.length()).unwrap_or(usize::MAX);
        if body.len().saturating_add(len) > limit {
            // Stops the download; how the cancellation ends does not matter.
            let _ = reader.cancel();
            return Err(too_large());
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
