"""MQTT: publishing a station to a broker, and watching stations from anywhere.

Topics and payloads are a contract (docs/mqtt.md); the client library is aiomqtt,
kept behind :mod:`monitor.mqtt.connection`.
"""

from monitor.mqtt.connection import MqttSettings
from monitor.mqtt.publisher import MqttPublisher
from monitor.mqtt.topics import Topics
from monitor.mqtt.url import MqttUrl, MqttUrlError, parse_mqtt_url

__all__ = ["MqttPublisher", "MqttSettings", "MqttUrl", "MqttUrlError", "Topics",
           "parse_mqtt_url"]
