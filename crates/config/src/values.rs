//! Scalars as people write them: durations, percentages, replica counts and whole numbers.
//!
//! Each parses leniently (a string or a number) and keeps out-of-range values, such as a
//! negative pause or a 120% weight, so that validation can report them all with a message that
//! says what was expected, rather than stopping at the first one.

mod duration;
mod percent;
mod scale;
mod whole;

pub use duration::DurationValue;
pub use percent::Percent;
pub use scale::ScaleValue;
pub use whole::{Whole, WholeWidth};
