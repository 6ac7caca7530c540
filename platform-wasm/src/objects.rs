//! Plain JavaScript objects the drop-in hands out (and the store header writes), built field
//! by field (the counterpart of [`crate::api::fields`]): no JSON in between, and no
//! serializer in the drop-in's module. Fields are set in the order given, which is the order
//! `Object.keys` shows.

use wasm_bindgen::JsValue;

/// An object being built.
pub(crate) struct Object(js_sys::Object);

impl Object {
    pub(crate) fn new() -> Self {
        Self(js_sys::Object::new())
    }

    /// Sets `name` to `value`.
    pub(crate) fn set(self, name: &str, value: impl Into<JsValue>) -> Self {
        // Setting a property on a fresh plain object cannot fail.
        let _ = js_sys::Reflect::set(&self.0, &JsValue::from_str(name), &value.into());
        self
    }

    /// Sets `name` to a number (times and ids: JavaScript numbers, never BigInts).
    pub(crate) fn number(self, name: &str, value: impl Into<f64>) -> Self {
        self.set(name, JsValue::from_f64(value.into()))
    }

    /// Sets `name` to a time in milliseconds (exact up to 2^53, beyond any clock's).
    pub(crate) fn time(self, name: &str, millis: i64) -> Self {
        self.set(name, JsValue::from_f64(millis as f64))
    }

    /// Sets `name` to `value`, or to `null` when there is none.
    pub(crate) fn or_null(self, name: &str, value: Option<impl Into<JsValue>>) -> Self {
        self.set(name, value.map_or(JsValue::NULL, Into::into))
    }

    pub(crate) fn build(self) -> JsValue {
        self.0.into()
    }
}

/// An array of `items`.
pub(crate) fn array(items: impl IntoIterator<Item = JsValue>) -> JsValue {
    items.into_iter().collect::<js_sys::Array>().into()
}
