"""I2C chip drivers over smbus2, each with a register-level simulator in :mod:`drivers.sim`.

Layers, bottom up:

* :mod:`drivers.i2c.bus`: :class:`~drivers.i2c.bus.I2CBus`, locked transfers over any
  smbus2-compatible object (one lock per bus number, process-wide), ``OSError`` translated once
  into :mod:`drivers.errors`; :func:`~drivers.i2c.bus.open_bus` opens ``/dev/i2c-N``.
* :mod:`drivers.i2c.registers`: the declarative, strict register engine (``Register``,
  ``Field``, adapters, ``RegisterDevice.get/set``).
* :mod:`drivers.i2c.device`: what every chip driver shares (option checking, ``simulated()``).
* One module per chip, each a ``Sensor`` or ``Actuator`` with its datasheet conversion as pure
  functions: ``bme280``/``bmp280`` (with ``bosch``), ``sht3x``, ``htu21d`` (HTU21D and Si7021),
  ``bh1750``, ``mcp9808``, ``ads1115``, ``ina219``, ``pca9685`` (PWM and servo), ``pcf8574``
  (output and input lines).  Names for model files are in :mod:`drivers.i2c.catalog`.
* :mod:`drivers.i2c.scan`: i2cdetect-style probing.

Example, on a Pi and in a test::

    >>> from drivers.i2c.bme280 import BME280
    >>> BME280(bus=1, address=0x76).read()                     # real chip on /dev/i2c-1
    >>> from drivers.sim.physics import FixedValues
    >>> BME280.simulated(physics=FixedValues(temperature=25.0)).read()["temperature"]
    25.0
"""
