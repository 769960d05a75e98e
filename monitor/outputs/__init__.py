"""Outputs of the daemon (event stream, log, display, MQTT): never on the alarm path."""
