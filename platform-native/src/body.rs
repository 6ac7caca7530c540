//! Reading a REST answer's body without letting the server decide how much memory it takes.

use quickchat_core::transport::TransportError;

/// The body of `response`, failing as soon as it grows past `limit` bytes (checked against
/// `Content-Length` first, then as the chunks arrive, so an endless body costs at most
/// `limit` plus one chunk). Bytes that are not UTF-8 are replaced, as `Response::text` does.
/// The request's timeout running out while reading gives `timed_out`.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
    path: &str,
    timed_out: TransportError,
) -> Result<String, TransportError> {
    let too_large = || TransportError::ResponseTooLarge {
        path: path.to_string(),
        limit,
    };
    let announced = response.content_length().unwrap_or(0);
    if announced > u64::try_from(limit).unwrap_or(u64::MAX) {
        return Err(too_large());
    }
    // Trust the announced length for the first allocation only up to the limit.
    let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        if e.is_timeout() {
            timed_out.clone()
        } else {
            TransportError::Io {
                detail: e.to_string(),
            }
        }
    })? {
        if body.len().saturating_add(chunk.len()) > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(match String::from_utf8(body) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}
