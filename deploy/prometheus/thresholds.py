# SPDX-License-Identifier: Apache-2.0 OR MIT
"""The adjustable values of clockwatch.rules.yml, in one place.

Each threshold appears in the rules file in exactly one spelling. The Azure
generator (deploy/azure/generate.py) turns each spelling into a template
parameter, the dashboard generator (deploy/grafana/build_dashboard.py) takes
its colours and tolerance from the defaults, and the tests check that the
chart's values.yaml defaults and the replacements in its
templates/prometheusrule.yaml are these.
"""

# (name, default, exact spelling in the rules file, template with {} for the value)
PARAMETERS = [
    ("boundWarningSeconds", "0.01", "(clockwatch_clock_error_bound_seconds > 0.01)",
     "(clockwatch_clock_error_bound_seconds > {})"),
    ("boundCriticalSeconds", "0.1", "(clockwatch_clock_error_bound_seconds > 0.1)",
     "(clockwatch_clock_error_bound_seconds > {})"),
    ("complianceToleranceSeconds", "0.01", "node:clockwatch_clock_error_bound_seconds:max <= bool 0.01",
     "node:clockwatch_clock_error_bound_seconds:max <= bool {}"),
    ("offsetFromMedianWarningSeconds", "30", "abs(node:clockwatch_offset_from_median_seconds) > 30",
     "abs(node:clockwatch_offset_from_median_seconds) > {}"),
    ("offsetFromMedianCriticalSeconds", "120", "abs(node:clockwatch_offset_from_median_seconds) > 120",
     "abs(node:clockwatch_offset_from_median_seconds) > {}"),
    ("jobName", "clockwatch", 'job="clockwatch"', 'job="{}"'),
    ("runbookUrl", "https://example.invalid/clockwatch/docs/runbooks.md",
     "https://example.invalid/clockwatch/docs/runbooks.md#", "{}#"),
]

DEFAULTS = {name: default for name, default, _s, _t in PARAMETERS}
THRESHOLDS = [name for name, *_ in PARAMETERS if name.endswith("Seconds")]
