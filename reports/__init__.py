"""kvwall reports: results directory -> tables (and, with the report issue, HTML + plots)."""
