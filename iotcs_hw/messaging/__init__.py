"""Sans-IO message model and request routing, shared by the device side and the local server."""

from iotcs_hw.messaging.message import (
    Message,
    MessageType,
    Priority,
    Reliability,
    Severity,
    alert_message,
    data_message,
    now_ms,
    response_message,
)
from iotcs_hw.messaging.requests import Request, RequestDispatcher, RequestHandler, Response
from iotcs_hw.messaging.sink import DeliveryErrorHandler, MessageSink, RecordingSink

__all__ = [
    "DeliveryErrorHandler",
    "Message",
    "MessageSink",
    "MessageType",
    "Priority",
    "RecordingSink",
    "Reliability",
    "Request",
    "RequestDispatcher",
    "RequestHandler",
    "Response",
    "Severity",
    "alert_message",
    "data_message",
    "now_ms",
    "response_message",
]
