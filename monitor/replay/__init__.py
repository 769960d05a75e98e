"""Replay: session files and CSV files through the same engine as live monitoring."""
