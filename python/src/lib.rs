//! `quickchat._quickchat`: the native part of the `quickchat` Python package — the native
//! client of the Quick Chat SDK (`platform-native`'s `Client`) and the in-process test
//! server, driven from asyncio. The Python API users see is the pure-Python package around
//! it (`python/quickchat`); this module is its engine.

mod bench;
mod bridge;
mod client;
mod errors;
mod events;
mod models;
mod testing;

use pyo3::prelude::*;

/// The module.
#[pymodule]
fn _quickchat(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<client::NativeClient>()?;
    module.add_class::<events::EventStream>()?;
    module.add_class::<models::User>()?;
    module.add_class::<models::Message>()?;
    module.add_class::<models::Group>()?;
    module.add_class::<models::GroupMember>()?;
    module.add_class::<models::PrekeyStatus>()?;
    module.add_class::<models::Conversation>()?;
    module.add_class::<models::SessionInfo>()?;
    module.add_class::<testing::TestServer>()?;
    module.add_class::<bench::RustEchoBot>()?;
    module.add_function(wrap_pyfunction!(client::compare_fingerprints, module)?)?;
    module.add_function(wrap_pyfunction!(bench::rust_echo_bot, module)?)?;
    module.add_function(wrap_pyfunction!(bridge::close_gate, module)?)?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
