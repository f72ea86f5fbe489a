//! OpenAPI schemas the lane API, the staff API and the store's types share
//! (plates, dictionary codes, staff text), and the limits of staff text, so a
//! documented field and its check say the same thing.

use onepark_proto::dict::{CarType, PlateColor};
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};

/// Longest reason / operator name kept in the audit trail.
pub(crate) const MAX_REASON: usize = 200;
pub(crate) const MAX_OPERATOR: usize = 50;

/// Dictionary codes of an optional field: `null` reads as absent.
fn codes_or_null(codes: &[i64], description: &str) -> ObjectBuilder {
    let values = codes.iter().map(|&c| serde_json::Value::from(c)).chain([serde_json::Value::Null]);
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
        .enum_values(Some(values))
        .description(Some(description))
}

pub(crate) fn optional_plate_colors() -> ObjectBuilder {
    codes_or_null(PlateColor::CODES, "车牌颜色 (spec §7)")
}

pub(crate) fn optional_car_types() -> ObjectBuilder {
    codes_or_null(CarType::CODES, "车辆类型 (spec §7)")
}

/// `null` allowed too: serde reads it as absent.
pub(crate) fn nullable_string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null]))
}

/// A plate as read (or null): no control or invisible character (`domain::plate::reading_pattern`).
pub(crate) fn read_plate() -> ObjectBuilder {
    nullable_string().pattern(Some(onepark_domain::plate::reading_pattern()))
}

/// Staff text: not blank (when required), no control characters, at most `max` characters.
pub(crate) fn staff_text_schema(max: usize, required: bool) -> ObjectBuilder {
    if required {
        let pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$";
        ObjectBuilder::new().schema_type(Type::String).pattern(Some(pattern)).max_length(Some(max))
    } else {
        nullable_string().pattern(Some(r"^[^\u0000-\u001f\u007f-\u009f]*$")).max_length(Some(max))
    }
}

pub(crate) fn reason_schema() -> ObjectBuilder {
    staff_text_schema(MAX_REASON, true)
}

pub(crate) fn operator_schema() -> ObjectBuilder {
    staff_text_schema(MAX_OPERATOR, false)
}

/// A plate staff type: a real one, not `无车牌`/`未识别`.
pub(crate) fn real_plate() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(onepark_domain::plate::REAL_PATTERN))
}
