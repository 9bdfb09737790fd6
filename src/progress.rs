//! Progress of long steps, reported through a trait: a progress bar in the application,
//! nothing in tests.

/// Progress reporting for long steps.
pub trait Progress {
    /// A step of `total` units starts.
    fn begin(&mut self, what: &str, total: usize);
    /// `n` more units are done.
    fn advance(&mut self, n: usize);
    /// The step is over.
    fn finish(&mut self);
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {
    fn begin(&mut self, _: &str, _: usize) {}
    fn advance(&mut self, _: usize) {}
    fn finish(&mut self) {}
}
