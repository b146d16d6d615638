"""The ``iotcs-hw`` command line: a thin face over the packages; no logic lives only here."""
