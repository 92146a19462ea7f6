//! What the command-line test files share: `loadtest` as a command with no broker URL or log filter inherited from
//! the environment.

use assert_cmd::Command;

pub fn loadtest() -> Command {
    let mut c = Command::cargo_bin("loadtest").unwrap();
    c.env_remove("LOADTEST_SERVICEBUS_CONNECTION").env_remove("LOADTEST_AMQP_URL").env_remove("RUST_LOG");
    c
}
