//! An encrypted message handed to the drop-in: the wire object, or its JSON string parsed
//! by the JavaScript engine's own `JSON.parse`, read field by field as core's
//! [`Envelope::parse`] reads the JSON, with its errors (a missing field by its path, a field
//! of the wrong type, a key or ciphertext that does not decode). The module then needs no
//! JSON parser of its own. Unknown fields are ignored, as there.

use quickchat_core::envelope::{Envelope, EnvelopeError, MAX_ENVELOPE_LEN, X3dhHeader};
use wasm_bindgen::JsValue;

use crate::realm::{present, whole};

/// The message in its JSON string.
pub(crate) fn envelope_from_wire(wire: &str) -> Result<Envelope, EnvelopeError> {
    if wire.len() > MAX_ENVELOPE_LEN {
        return Err(EnvelopeError::TooLarge {
            len: wire.len(),
            max: MAX_ENVELOPE_LEN,
        });
    }
    let value = js_sys::JSON::parse(wire).map_err(|e| EnvelopeError::NotJson {
        detail: crate::transport::js_error_text(&e),
    })?;
    envelope_from_js(&value)
}

/// The message as a JavaScript object.
pub(crate) fn envelope_from_js(message: &JsValue) -> Result<Envelope, EnvelopeError> {
    if !message.is_object() {
        return Err(shape("the message must be an object"));
    }
    let header = object(message, "header", "header")?
        .ok_or(EnvelopeError::MissingField { field: "header" })?;
    let ratchet_key = string(&header, "ratchetKey", "header.ratchetKey")?;
    let previous_chain_length =
        number(&header, "previousChainLength", "header.previousChainLength")?;
    let message_number = number(&header, "messageNumber", "header.messageNumber")?;
    let ciphertext = string(message, "ciphertext", "ciphertext")?;
    let mut envelope = Envelope::from_fields(
        &ratchet_key,
        previous_chain_length,
        message_number,
        &ciphertext,
    )?;
    // The reference always sends `"authTag": ""` (the tag lives inside the ciphertext).
    string(message, "authTag", "authTag")?;
    envelope.x3dh = match object(message, "x3dh", "x3dh")? {
        None => None,
        Some(x3dh) => Some(X3dhHeader::from_fields(
            &string(&x3dh, "senderIdentityKey", "x3dh.senderIdentityKey")?,
            &string(&x3dh, "senderEphemeralKey", "x3dh.senderEphemeralKey")?,
            number(&x3dh, "usedSignedPrekeyId", "x3dh.usedSignedPrekeyId")?,
            present(&x3dh, "usedOneTimePrekeyId")
                .map(|id| header_number("x3dh.usedOneTimePrekeyId", &id))
                .transpose()?,
        )?),
    };
    Ok(envelope)
}

/// A number of the message from JavaScript, held to what core's JSON reader accepts for a
/// `u32`.
pub(crate) fn header_number(path: &str, value: &JsValue) -> Result<u32, EnvelopeError> {
    whole(value, f64::from(u32::MAX))
        // In u32's range: the conversion is exact.
        .map(|n| n as u32)
        .ok_or_else(|| shape(format!("{path} must be an integer in 0..=4294967295")))
}

fn shape(detail: impl Into<String>) -> EnvelopeError {
    EnvelopeError::InvalidShape {
        detail: detail.into(),
    }
}

fn string(object: &JsValue, name: &str, path: &'static str) -> Result<String, EnvelopeError> {
    present(object, name)
        .ok_or(EnvelopeError::MissingField { field: path })?
        .as_string()
        .ok_or_else(|| shape(format!("{path} must be a string")))
}

fn number(object: &JsValue, name: &str, path: &'static str) -> Result<u32, EnvelopeError> {
    header_number(
        path,
        &present(object, name).ok_or(EnvelopeError::MissingField { field: path })?,
    )
}

fn object(
    object: &JsValue,
    name: &str,
    path: &'static str,
) -> Result<Option<JsValue>, EnvelopeError> {
    present(object, name)
        .map(|value| {
            if value.is_object() {
                Ok(value)
            } else {
                Err(shape(format!("{path} must be an object")))
            }
        })
        .transpose()
}
