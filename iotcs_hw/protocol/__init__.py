"""Pure protocol code shared by the device side and the local server.

Nothing in this package opens a socket, starts a thread or reads the clock on its own: callers
pass bytes, keys and the current time in, and get bytes, dataclasses or a precise error back.

* :mod:`iotcs_hw.protocol.unified_store`: the unified trusted-assets store (protocol §1.2) and
  the legacy JSON store (§1.3).
* :mod:`iotcs_hw.protocol.jwt`: client assertions (§2.1) and the token request body (§2.2).
* :mod:`iotcs_hw.protocol.activation`: the signed bytes of direct (§2.3) and indirect (§2.4)
  activation, their bodies and their verification.
"""
