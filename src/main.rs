//! The `loadtest` command line: parses arguments, dispatches, maps errors to exit codes.

fn main() {
    println!("loadtest");
}
