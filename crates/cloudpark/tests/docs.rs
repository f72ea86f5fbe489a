//! docs/cloudpark.md's worked example is what the code computes: its body
//! verifies under its secret, its string to sign is the one built from the
//! body, and its sign is the MD5 of that string.

use onepark_cloudpark::{Request, sign};

#[test]
fn the_docs_worked_example_holds() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cloudpark.md");
    let text = std::fs::read_to_string(&path).expect("docs/cloudpark.md");
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|rest| rest.trim().to_owned())
            .unwrap_or_else(|| panic!("docs/cloudpark.md has no `{name}` line"))
    };
    let (secret, body, string, expected) = (field("secret:"), field("body:"), field("string to sign:"), field("sign:"));
    let request = Request::parse(body.as_bytes()).expect("the example body parses");
    assert_eq!(sign::string_to_sign(&request.params, &secret), string);
    assert_eq!(sign::md5_upper(string.as_bytes()), expected);
    assert_eq!(request.sign, expected);
    request.verify(&secret).expect("the example verifies");
}
