//! The Qingdao city-platform wire protocol, sans I/O.
//!
//! Everything that crosses the wire between a lot and the platform is
//! defined here once: the envelope crypto ([`envelope`], [`downlink`]), the
//! form fields ([`form`]), every interface's typed message with its field
//! table ([`msg`]), validation ([`validate`]), the data dictionary
//! ([`dict`]), names and topics ([`interface`]) and the uid ([`uid`]).
//!
//! **Architecture invariant:** no sockets, no async runtime, no clock, no
//! files. Keys are passed in as text, time as values; results are returned.
//! The platform and the lot gateway are thin drivers around these functions.

pub mod dict;
pub mod downlink;
pub mod envelope;
pub mod form;
pub mod interface;
pub mod key;
pub mod mqtt;
pub mod msg;
pub mod uid;
pub mod validate;
pub mod wire;

mod diagnose;

pub use envelope::{Keys, OpenError, Opened, Profile, Sealed, open, seal};
pub use key::{KeyError, PrivateKey, PublicKey};
