"""MQTT delivery (Frigate-style topics) with paho-mqtt; QoS 1 by default, each message confirmed by the broker."""

from __future__ import annotations

import logging
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from clearwatch.config.events import MqttConfig
from clearwatch.events.outbox import TransientError
from clearwatch.storage import OutboxMessage

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT = 10.0


class MqttTransport:
    target = "mqtt"

    def __init__(self, cfg: MqttConfig):
        self.cfg = cfg
        self.connected = threading.Event()
        self._closing = False
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cfg.client_id or "",
                                  clean_session=True)
        if cfg.username:
            self.client.username_pw_set(cfg.username, cfg.password)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.reconnect_delay_set(1, 10)
        self.client.will_set(f"{cfg.topic_prefix}/available", "offline", qos=1, retain=True)
        self.client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive)
        self.client.loop_start()

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason: object,
                    properties: object = None) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("MQTT broker %s:%d refused the connection: %s", self.cfg.host, self.cfg.port, reason)
            return
        log.info("MQTT connected to %s:%d", self.cfg.host, self.cfg.port)
        client.publish(f"{self.cfg.topic_prefix}/available", "online", qos=1, retain=True)
        self.connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: object, flags: object, reason: object,
                       properties: object = None) -> None:
        if self.connected.is_set() and not self._closing:
            log.warning("MQTT connection to %s:%d lost (%s); reconnecting", self.cfg.host, self.cfg.port, reason)
        self.connected.clear()

    def deliver(self, msg: OutboxMessage) -> None:
        if not self.connected.is_set():
            raise TransientError(f"not connected to MQTT broker {self.cfg.host}:{self.cfg.port}")
        info = self.client.publish(msg.topic, msg.payload, qos=self.cfg.qos, retain=msg.retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise TransientError(f"MQTT publish failed: {mqtt.error_string(info.rc)}")
        if self.cfg.qos > 0:
            try:
                info.wait_for_publish(PUBLISH_TIMEOUT)
            except (RuntimeError, ValueError) as exc:
                raise TransientError(f"MQTT publish not confirmed: {exc}") from None
            if not info.is_published():
                raise TransientError("MQTT broker did not confirm the message in time")

    def close(self) -> None:
        self._closing = True
        try:
            if self.connected.is_set():
                self.client.publish(f"{self.cfg.topic_prefix}/available", "offline", qos=0, retain=True)
            self.client.disconnect()
        finally:
            self.client.loop_stop()
