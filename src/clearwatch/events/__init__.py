"""Events: what analytics report, stored, and delivered over MQTT and webhooks through a durable outbox."""

from clearwatch.events.model import CounterDelta, Event, EventUpdate
from clearwatch.events.outbox import Dispatcher, PermanentError, TransientError
from clearwatch.events.service import EventService
from clearwatch.events.webhooks import sign, verify

__all__ = ["CounterDelta", "Dispatcher", "Event", "EventService", "EventUpdate", "PermanentError",
           "TransientError", "sign", "verify"]
