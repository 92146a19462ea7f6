//! `loadtest compare RUN_DIR RUN_DIR... [--out DIR]`.

use crate::cli::CompareArgs;
use crate::exit::Failure;

pub fn compare(_args: &CompareArgs) -> Result<(), Failure> {
    Err(Failure::input("not yet"))
}
