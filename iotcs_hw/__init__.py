"""iotcs-hw: GPIO and I2C hardware on an Oracle IoT Cloud Service compatible cloud.

Packages, from the bottom up:

* :mod:`iotcs_hw.messaging` -- sans-IO message model and request routing (pure data code,
  shared with the local server).
* :mod:`iotcs_hw.client` -- the seed API (``iotcs.client.client``): device models, virtual
  devices, events, storage objects, and the device classes.
* :mod:`iotcs_hw.transport` -- trusted assets, JWT, activation, HTTPS, dispatcher and outbox.
* :mod:`iotcs_hw.runtime` -- model files bind :mod:`drivers` to virtual devices.
* :mod:`iotcs_hw.cloud` -- the local IoTCS-compatible server.
"""

__version__ = "0.1.0"
