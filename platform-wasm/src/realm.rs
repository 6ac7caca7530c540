//! Checks on JavaScript values that hold whatever realm the values come from.
//!
//! `instanceof` (what wasm-bindgen's `dyn_into`/`dyn_ref` use) compares against this realm's
//! constructors, and values often come from another: under jsdom (vitest, jest) a
//! `structuredClone`d or IndexedDB-stored `Uint8Array` is Node's, not the page's, and a
//! function or promise made by a test may be as well. These helpers look at what a value
//! is (`typeof`, the typed array's own tag), never at which realm made it.

use js_sys::{ArrayBuffer, Function, Reflect, Symbol, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

/// `value` as a function, if `typeof value === "function"`.
pub(crate) fn function(value: &JsValue) -> Option<Function> {
    value
        .is_function()
        .then(|| value.clone().unchecked_into::<Function>())
}

/// The bytes of `value` if it is a `Uint8Array` of any realm.
pub(crate) fn uint8_array(value: &JsValue) -> Option<Uint8Array> {
    // `ArrayBuffer.isView` and the typed array's `Symbol.toStringTag` read internal slots,
    // which every realm's typed arrays have; neither throws.
    if !ArrayBuffer::is_view(value) {
        return None;
    }
    let tag = Reflect::get(value, &Symbol::to_string_tag()).ok()?;
    (tag.as_string().as_deref() == Some("Uint8Array"))
        .then(|| value.clone().unchecked_into::<Uint8Array>())
}

/// The bytes of `value` if it is a `Uint8Array` of any realm, copied out.
pub(crate) fn bytes(value: &JsValue) -> Option<Vec<u8>> {
    uint8_array(value).map(|array| array.to_vec())
}

/// The bytes of `array`, copied out, and the array zeroed: for bytes that hold secrets
/// (records handed between modules), which then live only in the zeroized copy.
pub(crate) fn take_bytes(array: &Uint8Array) -> zeroize::Zeroizing<Vec<u8>> {
    let bytes = zeroize::Zeroizing::new(array.to_vec());
    array.fill(0, 0, array.length());
    bytes
}

/// `object[name]`, or `undefined` when it cannot be read (no object, a throwing getter).
pub(crate) fn field(object: &JsValue, name: &str) -> JsValue {
    if !object.is_object() && !object.is_function() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// `object[name]`, unless it is absent, `undefined` or `null` (what an absent field is for
/// the API, as JSON's `null` is for serde's optional fields).
pub(crate) fn present(object: &JsValue, name: &str) -> Option<JsValue> {
    Some(field(object, name)).filter(|v| !v.is_undefined() && !v.is_null())
}

/// `value` if it is a whole number from 0 to `max` (at most 2^53: exact as an integer).
pub(crate) fn whole(value: &JsValue, max: f64) -> Option<u64> {
    value
        .as_f64()
        .filter(|n| n.fract() == 0.0 && (0.0..=max).contains(n))
        // Whole and in range: the conversion is exact.
        .map(|n| n as u64)
}

/// Calls `object[name]()` with `object` as `this`, if it is a function; `None` if there is no
/// such method, `Err` with what it threw.
pub(crate) fn call_method(object: &JsValue, name: &str) -> Option<Result<JsValue, JsValue>> {
    function(&field(object, name)).map(|method| method.call0(object))
}
