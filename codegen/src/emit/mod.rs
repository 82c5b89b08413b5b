//! Stage 4: writers. They never validate; the model they get is already checked.

pub mod catalogue;
pub mod cpp;
pub mod markdown;
pub mod rust;
