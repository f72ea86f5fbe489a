//! The platform's own MQTT login as a publisher: the superuser of the
//! embedded broker, or the user in `mqtt_url` on an external one.

use onepark_proto::mqtt::BrokerUrl;

/// The platform publisher's login (embedded broker, or the user in `mqtt_url`).
#[derive(Clone)]
pub struct Internal {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Internal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Internal").field("username", &self.username).field("password", &"***").finish()
    }
}

/// The login in `mqtt://user:password@host:port`, if any.
pub fn url_login(url: &str) -> Option<Internal> {
    let (username, password) = BrokerUrl::parse(url).ok()?.login?;
    Some(Internal { username, password })
}
