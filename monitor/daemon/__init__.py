"""The monitoring daemon: devices in, alarms out, every output behind its own queue."""
