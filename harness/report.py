"""Results on disk (kept as the plugin's entry point): the store lives in harness/results.py,
REPORT.md's rendering in harness/render.py, escaping in harness/escape.py."""

from harness.render import render_report
from harness.results import (
    SCHEMA,
    ResultsError,
    atomic_write,
    atomic_write_bytes,
    build_view,
    check_writable,
    load_runs,
    refresh_report,
    slug,
    table_csv_name,
    write_results,
)

__all__ = ["SCHEMA", "ResultsError", "atomic_write", "atomic_write_bytes", "build_view", "check_writable",
           "load_runs", "refresh_report", "render_report", "slug", "table_csv_name", "write_results"]
