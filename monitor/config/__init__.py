"""Configuration: the TOML schema and its validation, units, and every default."""
