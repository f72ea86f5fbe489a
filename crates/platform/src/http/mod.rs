//! The platform's HTTP surfaces other than the lots' front doors: the admin
//! API, the money API, the operator dashboard and the driver pages, with
//! their one error type (`error`).

pub mod admin;
pub mod caller;
pub mod dashboard;
pub mod driver;
pub mod integrators;
pub mod money;
pub mod noplate;
pub mod notify;
pub mod params;
pub mod proof;
pub mod renewal;
pub mod scrape;
pub mod session;
