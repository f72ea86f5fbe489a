//! The Qingdao city platform's interface (`qdpark-city-platform.md`): sealed
//! HTTP uplinks, MQTT downlinks on `qdpark/v1/…`, the embedded broker and its
//! HTTP auth hooks for an external one.
//!
//! | module | what |
//! |---|---|
//! | `uplink` | the uplink pipeline: verify → decode → validate → authorize → store → reply |
//! | `records` | wire messages → the city's records; the 0.1/0.2 descriptions' upgrade |
//! | `replies` | the payment interfaces' answers, from proto's typed `*Reply` structs |
//! | `announce` | the city's announcements as sealed downlinks (requestIds, deadlines, expiry) |
//! | `admission` | probe, replay and refusal limits before the RSA step |
//! | `downlink` | sealing, publishing and retrying downlinks; MQTT clients |
//! | `broker` | the embedded MQTT broker (rmqtt) |
//! | `publisher` | the platform's own MQTT login |
//! | `mqtt_auth` | login and ACL hooks for an external broker |

pub mod admission;
pub mod announce;
pub mod broker;
pub mod downlink;
pub mod mqtt_auth;
pub mod publisher;
pub mod records;
pub mod replies;
pub mod uplink;
