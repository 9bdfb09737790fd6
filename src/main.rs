//! The `mias` application. (Work in progress.)
fn main() {}
