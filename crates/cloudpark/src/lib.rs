//! The parking cloud's open HTTP API (`/cloudparkapi/api/{serviceName}`),
//! sans I/O: the request envelope `{pid, serviceName, sign, timestamp,
//! bizContent}` ([`envelope`]), the vendor's MD5 sign ([`sign`]), the
//! answer `{reqId, code, msg, data}` and its codes ([`code`]), the tolerant
//! reading of bizContent ([`fields`]) and a typed message per service
//! ([`service`]), and the MQ channel (issue 24): its envelope and serviceIds ([`mq`]),
//! topics and signed logins ([`channel`]), typed commands and reports ([`command`]).
//!
//! The vendor's spellings are kept on the wire (`enterOpame`, `inChannelid`,
//! `cartypeCode`); its quirks are read as it writes them (numbers as strings,
//! `"undefined"` and `""` as absent, times not zero-padded). Money on this
//! API's fixed-car messages is yuan and becomes integer fen exactly.
//!
//! **Architecture invariant:** no sockets, no runtime, no clock, no files:
//! `now` comes in as a value, results go out as values.

pub mod channel;
pub mod code;
pub mod command;
pub mod envelope;
pub mod fields;
pub mod mq;
pub mod service;
pub mod sign;

pub use code::{Answer, Code, Refusal};
pub use envelope::{Request, build_request};
pub use service::Service;
