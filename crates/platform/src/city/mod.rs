//! The city's logic, whatever protocol a lot speaks: money (charges,
//! arrears, refunds, the channel's notifications), black/white lists, the
//! overview. It announces to lots through `announce` without knowing their
//! protocol.

pub mod accounts;
pub mod announce;
pub mod audit;
pub mod cards;
pub mod channel;
pub mod lists;
pub mod lots;
pub mod overview;
pub mod payments;
pub mod photos;
pub mod principals;
pub mod renewals;
