"""The local IoTCS-compatible server (protocol §9, §10) and its application-side client.

Modules (import what you need; nothing heavy is imported here, so ``app_client`` works without
the ``[cloud]`` extra):

* :mod:`~iotcs_hw.cloud.runner`: :class:`LocalCloud`, the server in a background thread.
* :mod:`~iotcs_hw.cloud.app_client`: :class:`AppClient` for cloud applications and tools.
* :mod:`~iotcs_hw.cloud.context`: :class:`ServerConfig` (every tunable and its default).
* ``device_api``, ``messages_api``, ``objects_api``, ``admin_api``: the HTTP endpoints.
* ``storage`` (state behind :class:`CloudStore`, SQLite by default), ``models`` (device-model
  registry and write validation), ``pending`` (requests waiting for devices), ``tls``.
"""
