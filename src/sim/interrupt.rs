//! Ctrl-C, SIGTERM and SIGHUP during a run: the first one asks the run to stop cleanly (on a real broker: stop
//! publishing, remove the run's topology; always: flush the series and write the report marked interrupted); a
//! second one ends the process at once.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

static RECEIVED: OnceLock<Arc<AtomicUsize>> = OnceLock::new();

/// Installs the handlers (once per process). Until then `received` is always `None`.
pub fn install() -> std::io::Result<()> {
    if RECEIVED.get().is_some() {
        return Ok(());
    }
    let which = Arc::new(AtomicUsize::new(0));
    let armed = Arc::new(AtomicBool::new(false));
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // Handlers run in registration order: the first signal finds `armed` false and only arms it; a second one
        // exits at once with 128 + signal, as a shell reports a process killed by it.
        signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&armed))?;
        signal_hook::flag::register(sig, Arc::clone(&armed))?;
        signal_hook::flag::register_usize(sig, Arc::clone(&which), sig as usize)?;
    }
    let _ = RECEIVED.set(which);
    Ok(())
}

/// The signal received since `install`, if any.
pub fn received() -> Option<i32> {
    let v = RECEIVED.get()?.load(Ordering::Relaxed);
    (v != 0).then_some(v as i32)
}
