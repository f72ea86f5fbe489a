//! Config files (TOML text) of the tests' platforms and lot gateways, wired
//! with the test keys.

use std::path::Path;

use crate::keys::key_path;

/// A platform's config: `top` (top-level lines, each ending in a newline),
/// its SQLite `database`, `[keys]` with the test platform key, then `tables`
/// as they are (`[[lots]]`, `[limits]`, …).
pub fn platform_toml(top: &str, database: &Path, tables: &str) -> String {
    format!(
        "{top}database = \"sqlite://{db}\"\n[keys]\nprivate_key = \"{key}\"\n{tables}",
        db = database.display(),
        key = key_path("platform_private.b64").display(),
    )
}

/// One `[[lots]]` table of a platform's config: `access_id` with the test lot
/// key and these parking codes.
pub fn lot_access(access_id: &str, parking_codes: &[&str]) -> String {
    let codes: Vec<String> = parking_codes.iter().map(|c| format!("\"{c}\"")).collect();
    format!(
        "[[lots]]\naccess_id = \"{access_id}\"\npublic_key = \"{key}\"\nparking_codes = [{codes}]\n",
        key = key_path("lot_public.b64").display(),
        codes = codes.join(", "),
    )
}

/// A lot gateway's config for `parking_code`: `top` (top-level lines, each
/// ending in a newline), its SQLite `database`, `berths` (total, open),
/// lanes 1 (entry) and 2 (exit), and last the `[platform]` table (`url`,
/// accessID 234, the test keys). What the caller appends goes into that
/// table up to its next header.
pub fn lot_toml(parking_code: &str, top: &str, database: &Path, berths: (u32, u32), url: &str) -> String {
    format!(
        "parking_code = \"{parking_code}\"\n{top}database = \"sqlite://{db}\"\n\
         [berths]\ntotal = {total}\nopen = {open}\n\
         [[lanes]]\nid = \"1\"\ndirection = \"entry\"\n[[lanes]]\nid = \"2\"\ndirection = \"exit\"\n\
         [platform]\nurl = \"{url}\"\naccess_id = \"234\"\n\
         private_key = \"{private}\"\nplatform_public_key = \"{public}\"\n",
        db = database.display(),
        total = berths.0,
        open = berths.1,
        private = key_path("lot_private.b64").display(),
        public = key_path("platform_public.b64").display(),
    )
}
