"""The client API of Oracle's ``iotcs.client.client``, with the same names and behaviour.

Everything a user of Oracle's Python library imports is here: device models, virtual devices
and their events and callbacks, external and storage objects, and the clients.
"""

from iotcs_hw.client.alert import Alert, Data
from iotcs_hw.client.client import Client, Closeable
from iotcs_hw.client.device_model import (
    DataType,
    DeviceModel,
    DeviceModelAction,
    DeviceModelAttribute,
    DeviceModelFormat,
    FormatField,
    FormatType,
    Range,
)
from iotcs_hw.client.events import (
    ChangeCallback,
    ChangeEvent,
    ErrorCallback,
    ErrorEvent,
    Event,
    NamedValue,
)
from iotcs_hw.client.external import (
    DirectoryStorageBackend,
    ExternalObject,
    StorageBackend,
    StorageDelegate,
    StorageObject,
    StoredObjectInfo,
    SyncCallback,
    SyncEvent,
    SyncStatus,
)
from iotcs_hw.client.virtual_device import AbstractVirtualDevice, VirtualDevice
from iotcs_hw.errors import SecurityException, StateException, TransportException

__all__ = [
    "AbstractVirtualDevice",
    "Alert",
    "ChangeCallback",
    "ChangeEvent",
    "Client",
    "Closeable",
    "Data",
    "DataType",
    "DeviceModel",
    "DeviceModelAction",
    "DeviceModelAttribute",
    "DeviceModelFormat",
    "DirectoryStorageBackend",
    "ErrorCallback",
    "ErrorEvent",
    "Event",
    "ExternalObject",
    "FormatField",
    "FormatType",
    "NamedValue",
    "Range",
    "SecurityException",
    "StateException",
    "StorageBackend",
    "StorageDelegate",
    "StorageObject",
    "StoredObjectInfo",
    "SyncCallback",
    "SyncEvent",
    "SyncStatus",
    "TransportException",
    "VirtualDevice",
]

# Device classes (DirectlyConnectedDevice, GatewayDevice) are added below by the transport layer.

from iotcs_hw.client.directly_connected import DirectlyConnectedDevice
from iotcs_hw.client.gateway import GatewayDevice

__all__ += ["DirectlyConnectedDevice", "GatewayDevice"]
