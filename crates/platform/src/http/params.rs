//! Query parameters with a documented pattern (dates, times), shared by
//! the admin and money APIs.

use serde::Deserialize;
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, Type};

/// A query parameter with a documented pattern, kept as the text given
/// (the handler parses it and names it in its error).
macro_rules! patterned {
    ($name:ident, $pattern:expr, $description:literal) => {
        #[derive(Deserialize)]
        #[serde(transparent)]
        pub(crate) struct $name(pub(crate) String);

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some($pattern))
                    .description(Some($description))
                    .into()
            }
        }

        impl ToSchema for $name {}

        impl $name {
            #[allow(dead_code)] // not every patterned parameter is read as text
            pub(crate) fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

patterned!(
    DateOrTime,
    onepark_domain::time::DATE_OR_TIME_PATTERN,
    "yyyy-MM-dd or yyyy-MM-dd HH:mm:ss (the pattern shows years 1900–2099 and days to 28; every real date of 0000–9999 is accepted)"
);
patterned!(
    Day,
    onepark_domain::time::DATE_PATTERN,
    "yyyy-MM-dd (the pattern shows years 1900–2099 and days to 28; every real date is accepted)"
);
