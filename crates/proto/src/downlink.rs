//! The MQTT downlink envelope `{requestId, timestamp, cipher, sign}` (§2.2.3).
//!
//! The spec copies the uplink wording ("platform public key", "user private
//! key"), which the lot could never open. We read it as the mirror image
//! (D-13): the platform encrypts with the lot's public key and signs with its
//! own private key; the lot verifies with the platform public key and
//! decrypts with its own private key. The business payload is a flat JSON
//! object, no `data` wrapper.

use crate::envelope::{self, Keys, OpenError, Opened, Profile, SealError};
use crate::msg::{DecodeError, decode, encode_flat, message};
use crate::validate::Kind;
use crate::wire::Time;

message! {
    /// What is published on `qdpark/v1/{interface}/{accessID}/{parkingCode}`.
    Envelope {
        /// 请求编号, echoed by the confirm call
        request_id: i64 = "requestId" ["requestID"], Y, Kind::Long;
        /// the status timestamp that orders notifications (§2.2.4)
        timestamp: Time = "timestamp", Y, Kind::Time;
        cipher: String = "cipher", Y, Kind::Str(usize::MAX);
        sign: String = "sign", Y, Kind::Str(usize::MAX);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DownlinkError {
    #[error("envelope: {0}")]
    Envelope(DecodeError),
    #[error("envelope requestId {request_id}: {error}")]
    Open { request_id: i64, error: OpenError },
}

/// Seals a business payload (flat JSON text) into an envelope (platform side).
pub fn seal(
    profile: Profile,
    keys: Keys<'_>,
    request_id: i64,
    timestamp: Time,
    payload: &str,
) -> Result<Envelope, SealError> {
    let sealed = envelope::seal(profile, payload.as_bytes(), keys)?;
    Ok(Envelope { request_id, timestamp, cipher: sealed.cipher, sign: sealed.sign })
}

impl Envelope {
    pub fn to_json(&self) -> String {
        encode_flat(self)
    }
}

/// Parses and opens a received envelope (lot side): verify, then decrypt.
pub fn open(profile: Profile, keys: Keys<'_>, json: &str) -> Result<(Envelope, Opened), DownlinkError> {
    let envelope = decode::<Envelope>(json).map_err(DownlinkError::Envelope)?.message;
    let opened = envelope::open(profile, &envelope.cipher, &envelope.sign, keys)
        .map_err(|error| DownlinkError::Open { request_id: envelope.request_id, error })?;
    Ok((envelope, opened))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::tests::pair;
    use crate::msg::list::SpecialCar;

    #[test]
    fn platform_seals_lot_opens() {
        let (lot, lot_pub) = pair(1024);
        let (platform, platform_pub) = pair(1024);
        let payload = r#"{"parkingCode":"1001","plateNo":"鲁B01C01","carType":1,"operateType":0,"operate":0,
            "operateTime":"2021-07-01 08:00:00","startTime":"2021-07-01 08:00:00","endTime":"2022-07-01 08:00:00"}"#;
        let ts: Time = "2021-07-01 08:00:00".parse().expect("time");
        let env =
            seal(Profile::Qingdao, Keys { own: Some(&platform), peer: Some(&lot_pub) }, 42, ts, payload).expect("seal");
        let json = env.to_json();
        let (got, opened) =
            open(Profile::Qingdao, Keys { own: Some(&lot), peer: Some(&platform_pub) }, &json).expect("open");
        assert_eq!((got.request_id, got.timestamp), (42, ts));
        let car = decode::<SpecialCar>(&opened.text).expect("payload").message;
        assert_eq!(car.plate_no, "鲁B01C01");
        // A lot holding the wrong platform key refuses the message.
        let (_, other_pub) = pair(1024);
        let err = open(Profile::Qingdao, Keys { own: Some(&lot), peer: Some(&other_pub) }, &json).expect_err("forged");
        assert!(matches!(err, DownlinkError::Open { request_id: 42, error: OpenError::Signature { .. } }));
    }

    #[test]
    fn envelope_accepts_string_request_id() {
        let json = r#"{"requestId":"7","timestamp":"2008-08-08 08:08:08","cipher":"x","sign":"y"}"#;
        assert_eq!(decode::<Envelope>(json).expect("envelope").message.request_id, 7);
    }
}
