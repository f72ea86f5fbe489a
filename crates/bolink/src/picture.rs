//! 2.12 `upload_carpic` (the vendor's KC/465845): a picture of an order
//! (`picture_source` `order`, `park_order_type` `in`/`out`), of a manual
//! barrier lift, of a fuzzy-match confirmation or of a lane capture, as
//! Base64 in `content`. The vendor keeps 150 KB; onepark takes up to
//! 512 KiB (the city's photo limit), JPEG only (the city's photos are).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::envelope::Envelope;
use crate::fields::FieldError;

pub const SERVICE: &str = "upload_carpic";
pub const MAX_BYTES: usize = 512 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picture {
    /// `order`, `liftrod`, `confirm` or `capture`.
    pub source: String,
    /// The order, lift, event or capture it belongs to (by source).
    pub owner_id: String,
    /// `in` or `out` for an order's picture.
    pub park_order_type: Option<String>,
    /// Unix seconds.
    pub create_time: i64,
    pub car_number: Option<String>,
    pub jpeg: Vec<u8>,
}

impl Picture {
    pub fn read(e: &Envelope) -> Result<Picture, FieldError> {
        let f = e.fields();
        let source = f.text(&["picture_source"], 16)?;
        let owner = match source.as_str() {
            "order" => "order_id",
            "liftrod" => "liftrod_id",
            "confirm" => "event_id",
            "capture" => "uuid",
            other => {
                return Err(FieldError(format!(
                    "data.picture_source 必须是 order、liftrod、confirm 或 capture，收到 {other}"
                )));
            }
        };
        let park_order_type = f.opt_text(&["park_order_type"], 8)?;
        if source == "order" && !matches!(park_order_type.as_deref(), Some("in" | "out")) {
            return Err(FieldError("data.park_order_type 必须是 in 或 out（订单图片）".into()));
        }
        let pic_type = f.opt_text(&["pic_type"], 8)?.unwrap_or_else(|| "jpg".into()).to_ascii_lowercase();
        if !matches!(pic_type.as_str(), "jpg" | "jpeg") {
            return Err(FieldError(format!("data.pic_type 仅支持 jpg，收到 {pic_type}")));
        }
        let content = f.text(&["content"], MAX_BYTES * 4 / 3 + 1024)?;
        let content = content.split_once("base64,").map_or(content.as_str(), |(_, b)| b);
        let cleaned: String = content.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let jpeg =
            STANDARD.decode(cleaned.as_bytes()).map_err(|_| FieldError("data.content 不是有效的 Base64".into()))?;
        if jpeg.len() > MAX_BYTES {
            return Err(FieldError(format!("data.content 图片 {} 字节，超过 512 KiB", jpeg.len())));
        }
        if !jpeg.starts_with(&[0xFF, 0xD8, 0xFF]) {
            return Err(FieldError("data.content 不是 JPG 图片".into()));
        }
        Ok(Picture {
            owner_id: f.text(&[owner], 64)?,
            source,
            park_order_type,
            create_time: f.unix(&["create_time"])?,
            car_number: f.opt_text(&["car_number"], 64)?,
            jpeg,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(data: serde_json::Value) -> Envelope {
        Envelope::parse(Envelope::build(SERVICE, Some("t"), &data, "k").as_bytes()).expect("parses")
    }

    #[test]
    fn an_orders_picture_and_what_is_refused() {
        let jpeg = STANDARD.encode([0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]);
        let p = Picture::read(&envelope(json!({"picture_source": "order", "order_id": "A_1", "park_order_type": "in",
            "create_time": 1_796_371_200, "content": jpeg, "upload_type": "http"})))
        .expect("reads");
        assert_eq!((p.owner_id.as_str(), p.jpeg.len()), ("A_1", 7));
        for (data, field) in [
            (
                json!({"picture_source": "order", "order_id": "A", "create_time": 1_796_371_200, "content": jpeg}),
                "park_order_type",
            ),
            (json!({"picture_source": "x", "create_time": 1_796_371_200, "content": jpeg}), "picture_source"),
            (
                json!({"picture_source": "liftrod", "liftrod_id": "L", "create_time": 1_796_371_200, "content": "!!"}),
                "content",
            ),
            (
                json!({"picture_source": "liftrod", "liftrod_id": "L", "create_time": 1_796_371_200, "content": STANDARD.encode(b"PNG")}),
                "content",
            ),
            (
                json!({"picture_source": "liftrod", "liftrod_id": "L", "create_time": 1_796_371_200, "content": jpeg, "pic_type": "png"}),
                "pic_type",
            ),
        ] {
            assert!(Picture::read(&envelope(data.clone())).expect_err("refused").0.contains(field), "{data}");
        }
    }
}
