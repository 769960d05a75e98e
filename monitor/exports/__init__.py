"""Files for other programs: session exports (CSV, Parquet) and the cohort summary table."""
