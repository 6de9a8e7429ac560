//! Purpose-built misbehaving plugins, one example each, that the host's
//! tests run to prove the sandbox holds: a panic, an endless loop, a memory
//! bomb, a plugin that asks for names outside its root, one that returns
//! records breaking the model, and one that reads the clock and asks for
//! random bytes. They are test artifacts, built for `wasm32-wasip2` by
//! `plugins/artifacts`; none is a real adapter.
