"""Register-level models of the I2C chips, one module per chip, for :mod:`drivers.sim.smbus`.

Each model answers reads and writes the way its datasheet (and ``shared/spec/hardware``) says:
identification registers, calibration data, measurement registers computed from a
:class:`drivers.sim.physics.PhysicalSource`, CRCs, conversion delays measured on the bus's clock,
NACKs where the real chip NACKs.
"""
