//! Prometheus exporter-toolkit compatible web configuration (placeholder).
