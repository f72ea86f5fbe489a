//! A city's parking traffic as a pure model: no I/O, no clock, no threads.
//! A seed and the parameters name one city and one stream of events; the
//! driver (`onepark sim`, `onepark demo`) decides what virtual time it is
//! and turns events into lane calls or sealed records.
//!
//! - [`city`]: the lots of a Qingdao-like city — district, position, size,
//!   lanes, tariff, month cards — drawn from realistic ranges;
//! - [`plates`]: plates with Qingdao's mix (鲁B dominant, other provinces, a
//!   new-energy share) and the misreads plate cameras make;
//! - [`traffic`]: arrivals by time of day and weekday, stays from minutes to
//!   overnight, cars without plates, unread plates, payments — as [`traffic::Event`]s
//!   in time order, up to whatever instant the driver asks for;
//! - [`photo`]: the lane camera's small JPEGs of those cars.
//!
//! Draws use floating point (they are statistics); everything that leaves
//! the model is integer: money in fen, times to the second.

pub mod city;
mod draw;
pub mod photo;
pub mod plates;
pub mod traffic;

pub use city::{City, CityParams, LotKind, LotSpec};
pub use plates::{CarPlate, PlateMix};
pub use traffic::{Event, EventKind, Payment, Read, Sim, TrafficParams};
