"""The local IoTCS-compatible server (protocol §9, §10) and its application-side client.

Modules (import what you need; nothing heavy is imported here, so ``app_client`` works without
the ``[cloud]`` extra):

* :mod:`~iotcs_hw.cloud.runner`: :class:`LocalCloud`, the server in a background thread.
* :mod:`~iotcs_hw.cloud.app_client`: :class:`AppClient` for cloud applications and tools.
* :mod:`~iotcs_hw.cloud.context`: :class:`ServerConfig` (every tunable and its default).
* ``device_api``, ``messages_api``, ``objects_api``, ``admin_api``: the HTTP endpoints.
* ``records`` (what is stored, and the :class:`CloudStore` interface), ``storage`` (its SQLite
  implementation), ``models`` (device-model registry and write validation), ``writes`` (cloud
  writes checked against the model), ``pending`` (requests waiting for devices), ``tls``,
  ``provisioning`` (unified-store files), ``support`` (clock, tokens, fault switch, recorder).
* ``dashboard.html``: a one-page view served at ``/local/dashboard`` (loopback only).

See ``README.md`` beside this file for the command line and the HTTP surface.
"""
