"""The procedure report: a session replayed through the engine, as Markdown, HTML and PNGs."""

from monitor.report.build import ReportFiles, build_report

__all__ = ["ReportFiles", "build_report"]
