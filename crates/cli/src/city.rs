//! A simulated city's lots as real lot-gateway configurations: the same
//! lanes, berths, tariff and basic information the model drew, so the fee
//! a simulated driver pays is the fee the gateway asks (tested), and what
//! the platform hears of a lot is what the model says it is.

use onepark_domain::tariff::Rule;
use onepark_sim::LotSpec;

/// Where a generated lot listens and how it reaches the platform.
pub(crate) struct Link<'a> {
    pub(crate) listen: &'a str,
    /// SQLite URL of the lot's own database.
    pub(crate) database: &'a str,
    /// The platform's uplink, e.g. `http://127.0.0.1:8080/api/v1/cp`.
    pub(crate) platform_url: &'a str,
    pub(crate) access_id: &'a str,
    pub(crate) private_key: &'a str,
    pub(crate) platform_public_key: &'a str,
    pub(crate) mqtt_url: Option<&'a str>,
}

/// The gateway's TOML for one simulated lot (see examples/lot.toml).
pub(crate) fn lot_config(spec: &LotSpec, link: &Link) -> String {
    let mut toml = String::new();
    let line = |toml: &mut String, key: &str, value: String| toml.push_str(&format!("{key} = {value}\n"));
    line(&mut toml, "parking_code", text(&spec.parking_code));
    line(&mut toml, "name", text(&spec.name));
    line(&mut toml, "listen", text(link.listen));
    line(&mut toml, "database", text(link.database));
    line(&mut toml, "timezone", text("Asia/Shanghai"));
    toml.push_str("\n[berths]\n");
    toml.push_str(&format!(
        "total = {}\nopen = {}\nmonthly = {}\ncharging = {}\n",
        spec.berths,
        spec.open_berths(),
        spec.monthly_berths,
        spec.berths / 10
    ));
    for (lanes, direction) in [(&spec.entry_lanes, "entry"), (&spec.exit_lanes, "exit")] {
        for lane in lanes {
            toml.push_str(&format!("\n[[lanes]]\nid = {}\ndirection = \"{direction}\"\n", text(lane)));
        }
    }
    toml.push_str("\n[tariff]\n");
    toml.push_str(&rule(&spec.tariff.default));
    for (car_type, r) in &spec.tariff.by_car_type {
        toml.push_str(&format!("\n[[tariff.car_types]]\ncar_type = {car_type}\n{}", rule(r)));
    }
    toml.push_str("\n[platform]\n");
    line(&mut toml, "url", text(link.platform_url));
    line(&mut toml, "access_id", text(link.access_id));
    line(&mut toml, "private_key", text(link.private_key));
    line(&mut toml, "platform_public_key", text(link.platform_public_key));
    line(&mut toml, "profile", text("qingdao"));
    if let Some(mqtt) = link.mqtt_url {
        line(&mut toml, "mqtt_url", text(mqtt));
    }
    toml.push_str("\n[info]\n");
    let (amap, baidu) = (spec.position, baidu(spec.position));
    line(&mut toml, "address", text(&spec.address));
    line(&mut toml, "region_code", text(spec.region_code));
    line(&mut toml, "area_code", text("01"));
    line(&mut toml, "price_type", "2".into());
    line(&mut toml, "fee_scale", text(&spec.fee_scale));
    line(&mut toml, "lot_type", "2".into());
    line(&mut toml, "bmap_x", text(&format!("{:.6}", baidu.0)));
    line(&mut toml, "bmap_y", text(&format!("{:.6}", baidu.1)));
    line(&mut toml, "gmap_x", text(&format!("{:.6}", amap.0)));
    line(&mut toml, "gmap_y", text(&format!("{:.6}", amap.1)));
    toml
}

fn rule(r: &Rule) -> String {
    let mut out = format!(
        "free_minutes = {}\nfree_deducted = {}\nperiod_minutes = {}\nprice = {}\n",
        r.free_minutes,
        r.free_deducted,
        r.period_minutes,
        r.day_price.get()
    );
    if let Some((minutes, price)) = r.first_period {
        out.push_str(&format!("first_period_minutes = {minutes}\nfirst_period_price = {}\n", price.get()));
    }
    if let Some(night) = &r.night {
        out.push_str(&format!(
            "night_start = \"{}\"\nnight_end = \"{}\"\nnight_price = {}\n",
            night.start.format("%H:%M"),
            night.end.format("%H:%M"),
            night.price.get()
        ));
    }
    if let Some(cap) = r.cycle_cap {
        out.push_str(&format!("cycle_cap = {}\n", cap.get()));
    }
    out
}

/// A TOML basic string.
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Baidu's BD-09 coordinates of an AMap (GCJ-02) position: the published
/// conversion both map vendors document.
fn baidu((lng, lat): (f64, f64)) -> (f64, f64) {
    let x_pi = std::f64::consts::PI * 3000.0 / 180.0;
    let z = (lng * lng + lat * lat).sqrt() + 0.00002 * (lat * x_pi).sin();
    let theta = lat.atan2(lng) + 0.000003 * (lng * x_pi).cos();
    (z * theta.cos() + 0.0065, z * theta.sin() + 0.006)
}

#[cfg(test)]
mod tests {
    use super::*;
    use onepark_sim::{City, CityParams};

    #[test]
    fn every_simulated_lot_is_a_gateway_config_with_the_same_tariff() {
        let dir = std::env::temp_dir().join(format!("onepark-city-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let keys = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto/tests/interop/keys");
        let key = |name: &str| keys.join(name).display().to_string();
        let (private, public) = (key("lot_private.b64"), key("platform_public.b64"));
        let city = City::generate(&CityParams { lots: 60, seed: 9, ..CityParams::default() });
        for spec in &city.lots {
            let link = Link {
                listen: "127.0.0.1:0",
                database: "sqlite://lot.db",
                platform_url: "http://127.0.0.1:8080/api/v1/cp",
                access_id: "234",
                private_key: &private,
                platform_public_key: &public,
                mqtt_url: Some("mqtt://127.0.0.1:1884"),
            };
            let path = dir.join(format!("{}.toml", spec.parking_code));
            std::fs::write(&path, lot_config(spec, &link)).expect("write");
            let config = onepark_lot::config::Config::load(&path).unwrap_or_else(|e| panic!("{}: {e}", spec.name));
            assert_eq!(config.tariff, spec.tariff, "{}: the driver pays what the lot asks", spec.name);
            assert_eq!(config.name, spec.name);
            assert_eq!(config.berths.total, spec.berths);
            assert_eq!(config.berths.open, spec.open_berths());
            let lanes = |d| config.lanes.iter().filter(|l| l.direction == d).map(|l| l.id.clone()).collect::<Vec<_>>();
            assert_eq!(lanes(onepark_lot::config::Direction::Entry), spec.entry_lanes);
            assert_eq!(lanes(onepark_lot::config::Direction::Exit), spec.exit_lanes);
            let info = config.info.expect("parking info");
            assert_eq!(info.region_code, spec.region_code);
            assert_eq!(info.fee_scale, spec.fee_scale);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn baidu_coordinates_follow_the_published_offset() {
        // examples/lot.toml: AMap 120.3761, 36.0612 is Baidu 120.3826, 36.0671.
        let (x, y) = baidu((120.3761, 36.0612));
        assert!((x - 120.3826).abs() < 0.0005 && (y - 36.0671).abs() < 0.0005, "{x} {y}");
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(text(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(text("行\n"), "\"行\\u000A\"");
    }
}
