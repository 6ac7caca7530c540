//! The seams between core and the platforms: what a platform must supply.
//!
//! Native code needs `Send` futures (tokio spawns them on a thread pool); the browser is
//! single-threaded and its JS handles are not `Send`. The traits are therefore declared with
//! `async_trait` in its `Send` form natively and its `?Send` form on wasm32, and
//! [`MaybeSend`] / [`MaybeSync`] stand for `Send` / `Sync` only where those exist.

/// `Send` on native targets; nothing on wasm32.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + ?Sized> MaybeSend for T {}

/// `Send` on native targets; nothing on wasm32.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSend for T {}

/// `Sync` on native targets; nothing on wasm32.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSync: Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Sync + ?Sized> MaybeSync for T {}

/// `Sync` on native targets; nothing on wasm32.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSync for T {}
