"""MQTT: publishing a station to a broker, and watching stations from anywhere.

Topics and payloads are a contract (docs/mqtt.md); the client library is aiomqtt, kept behind
:mod:`monitor.mqtt.connection`. Nothing is imported here, so the config can use
:mod:`monitor.mqtt.url` without loading the MQTT client.
"""
