"""GPIO drivers over gpiozero 2 (names registered in ``drivers/gpio/catalog.py``).

Modules, one per family:

=====================  ==========================================================
``digital_inputs``     digital_input, button, motion_sensor, line_sensor (edges pushed)
``light_sensor``       light_sensor: LDR + capacitor charge timing
``distance``           hcsr04: ultrasonic distance
``adc``                mcp3001 .. mcp3208: SPI ADC channels, scaled to a named quantity
``system``             cpu_temperature: the SoC thermal zone (sysfs, no pins)
``digital_outputs``    digital_output, relay, led, buzzer
``pwm_outputs``        pwm_led, servo, angular_servo
``motor``              motor: H-bridge speed -1..1
=====================  ==========================================================

Shared parts: ``pin_factory`` (factory resolution, pin names, gpiozero errors translated
once), ``device`` (a driver's pins and gpiozero device), ``output_base`` (apply/validate/
safe state), ``values`` (value checks).  Every driver takes ``pin_factory=`` keyword-only
and never assigns ``gpiozero.Device.pin_factory``.
"""
