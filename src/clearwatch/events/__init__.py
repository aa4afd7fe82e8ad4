"""Events: what analytics report, stored, and delivered over MQTT and webhooks through a durable outbox."""

from typing import TYPE_CHECKING

from clearwatch.lazy import lazy_exports

if TYPE_CHECKING:
    from clearwatch.events.model import CounterDelta, Event, EventUpdate
    from clearwatch.events.outbox import Dispatcher, PermanentError, TransientError
    from clearwatch.events.service import EventService
    from clearwatch.events.webhooks import sign, verify

__getattr__, __dir__ = lazy_exports(__name__, {
    "CounterDelta": ".model",
    "Dispatcher": ".outbox",
    "Event": ".model",
    "EventService": ".service",
    "EventUpdate": ".model",
    "PermanentError": ".outbox",
    "sign": ".webhooks",
    "TransientError": ".outbox",
    "verify": ".webhooks",
})

__all__ = [
    "CounterDelta",
    "Dispatcher",
    "Event",
    "EventService",
    "EventUpdate",
    "PermanentError",
    "TransientError",
    "sign",
    "verify",
]
