//! The toxics, one file each, all behind `Toxic` (Toxiproxy's set, with its parameter names).

mod bandwidth;
mod drop;
mod latency;
mod limit_data;
mod reset_peer;
mod slicer;
mod slow_close;
mod timeout;

pub use bandwidth::Bandwidth;
pub use drop::PacketLoss;
pub use latency::Latency;
pub use limit_data::LimitData;
pub use reset_peer::ResetPeer;
pub use slicer::Slicer;
pub use slow_close::SlowClose;
pub use timeout::Timeout;
