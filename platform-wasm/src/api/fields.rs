//! The fields of a plain JavaScript object handed to the API (an options object, a bundle
//! handed back), each read from the object itself, without JSON in between, and checked for
//! its type: a field of the wrong type is refused by name (`storage must be a string`).
//! `undefined` and `null` mean an absent field.

use wasm_bindgen::JsValue;

use crate::error::{Error, Result};
use crate::realm::{present, whole};

/// The fields of an object the API's errors call `what`.
pub(crate) struct Fields<'a> {
    object: &'a JsValue,
    what: &'static str,
}

impl<'a> Fields<'a> {
    /// The fields of `object`, which must be an object.
    pub(crate) fn of(object: &'a JsValue, what: &'static str) -> Result<Self> {
        if !object.is_object() {
            return Err(Error::invalid(what, "not an object"));
        }
        Ok(Self { object, what })
    }

    /// Why the field `name` is refused.
    pub(crate) fn wrong(&self, name: &str, expected: &str) -> Error {
        Error::invalid(self.what, format!("{name} must be {expected}"))
    }

    /// The field `name` as `read` takes it, if present; refused as not `expected` when
    /// `read` does not take it.
    fn typed<T>(
        &self,
        name: &str,
        expected: &str,
        read: impl FnOnce(&JsValue) -> Option<T>,
    ) -> Result<Option<T>> {
        present(self.object, name)
            .map(|v| read(&v).ok_or_else(|| self.wrong(name, expected)))
            .transpose()
    }

    pub(crate) fn string(&self, name: &str) -> Result<Option<String>> {
        self.typed(name, "a string", JsValue::as_string)
    }

    /// A string the object must have.
    pub(crate) fn required_string(&self, name: &str) -> Result<String> {
        self.string(name)?
            .ok_or_else(|| self.wrong(name, "a string"))
    }

    #[cfg(feature = "client")]
    pub(crate) fn boolean(&self, name: &str) -> Result<Option<bool>> {
        self.typed(name, "true or false", JsValue::as_bool)
    }

    #[cfg(feature = "client")]
    pub(crate) fn number(&self, name: &str) -> Result<Option<f64>> {
        self.typed(name, "a number", |v| v.as_f64().filter(|n| n.is_finite()))
    }

    /// A whole number from 0 to `max`.
    pub(crate) fn whole(&self, name: &str, max: f64, expected: &str) -> Result<Option<u64>> {
        self.typed(name, expected, |v| whole(v, max))
    }

    /// An array of strings (absent: none).
    #[cfg(feature = "client")]
    pub(crate) fn strings(&self, name: &str) -> Result<Vec<String>> {
        const EXPECTED: &str = "an array of strings";
        self.array(name, EXPECTED)?
            .unwrap_or_default()
            .iter()
            .map(|item| item.as_string().ok_or_else(|| self.wrong(name, EXPECTED)))
            .collect()
    }

    pub(crate) fn object(&self, name: &str) -> Result<Option<JsValue>> {
        self.typed(name, "an object", |v| {
            Some(v.clone()).filter(JsValue::is_object)
        })
    }

    /// The items of an array field.
    pub(crate) fn array(&self, name: &str, expected: &str) -> Result<Option<Vec<JsValue>>> {
        self.typed(name, expected, |v| {
            js_sys::Array::is_array(v).then(|| js_sys::Array::from(v).to_vec())
        })
    }
}
