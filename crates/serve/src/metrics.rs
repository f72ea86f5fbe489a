//! Prometheus metrics for both sides, through `prometheus-client` (one
//! implementation: its counters, gauges, labelled families and histograms,
//! encoded in the Prometheus text format 0.0.4 that `/metrics` has always
//! served). Values a process already keeps in its own atomics (HTTP
//! connection counts, the lot's outbox counters, group-commit totals) are
//! read at scrape time through [`Snapshot`] instead of being counted twice.

pub use prometheus_client::encoding::EncodeLabelSet;
pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
pub use prometheus_client::metrics::counter::Counter;
pub use prometheus_client::metrics::family::Family;
pub use prometheus_client::metrics::histogram::Histogram;
pub use prometheus_client::registry::Registry;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// A value read at scrape time.
#[derive(Clone, Copy, Debug)]
pub enum Sample {
    Counter(u64),
    Gauge(i64),
}

/// Scrape-time values: (name, help, value). Counter names are given
/// without `_total`, which the encoder appends.
#[derive(Debug, Default)]
pub struct Snapshot(pub Vec<(&'static str, &'static str, Sample)>);

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for &(name, help, sample) in &self.0 {
            match sample {
                Sample::Counter(n) => {
                    let metric = ConstCounter::new(n);
                    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)?;
                }
                Sample::Gauge(n) => {
                    let metric = ConstGauge::new(n);
                    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)?;
                }
            }
        }
        Ok(())
    }
}

/// The text `/metrics` answers.
pub fn render(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, registry);
    out
}

/// Cumulative bucket bounds as prometheus-client takes them.
pub fn histogram(bounds: &[f64]) -> Histogram {
    Histogram::new(bounds.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct Labels {
        interface: String,
    }

    #[test]
    fn names_and_shapes_as_before() {
        let mut registry = Registry::default();
        let family = Family::<Labels, Histogram>::new_with_constructor(|| histogram(&[0.1, 5.0]));
        registry.register("x_seconds", "X.", family.clone());
        family.get_or_create(&Labels { interface: "a".into() }).observe(0.05);
        family.get_or_create(&Labels { interface: "a".into() }).observe(7.0);
        registry.register_collector(Box::new(Snapshot(vec![
            ("y", "Y.", Sample::Counter(3)),
            ("z", "Z.", Sample::Gauge(-1)),
        ])));
        let text = render(&registry);
        assert!(text.contains("x_seconds_bucket{interface=\"a\",le=\"0.1\"} 1\n"), "{text}");
        assert!(text.contains("x_seconds_bucket{interface=\"a\",le=\"+Inf\"} 2\n"), "{text}");
        assert!(text.contains("x_seconds_count{interface=\"a\"} 2\n"), "{text}");
        assert!(text.contains("# TYPE y_total counter\ny_total 3\n"), "{text}");
        assert!(text.contains("# TYPE z gauge\nz -1\n"), "{text}");
    }
}
