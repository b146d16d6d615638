"""Driver names this package provides, as ``name -> "module:Class"``.

Kept free of imports so that listing drivers never imports gpiozero or smbus2.
"""

DRIVERS: dict[str, str] = {
    # inputs
    "digital_input": "drivers.gpio.digital_inputs:DigitalInput",
    "button": "drivers.gpio.digital_inputs:Button",
    "motion_sensor": "drivers.gpio.digital_inputs:MotionSensor",
    "line_sensor": "drivers.gpio.digital_inputs:LineSensor",
    "light_sensor": "drivers.gpio.light_sensor:LightSensor",
    "hcsr04": "drivers.gpio.distance:DistanceSensor",
    "distance_sensor": "drivers.gpio.distance:DistanceSensor",
    "mcp3001": "drivers.gpio.adc:Mcp3001",
    "mcp3002": "drivers.gpio.adc:Mcp3002",
    "mcp3004": "drivers.gpio.adc:Mcp3004",
    "mcp3008": "drivers.gpio.adc:Mcp3008",
    "mcp3201": "drivers.gpio.adc:Mcp3201",
    "mcp3202": "drivers.gpio.adc:Mcp3202",
    "mcp3204": "drivers.gpio.adc:Mcp3204",
    "mcp3208": "drivers.gpio.adc:Mcp3208",
    "cpu_temperature": "drivers.gpio.system:CpuTemperature",
    # outputs
    "digital_output": "drivers.gpio.digital_outputs:DigitalOutput",
    "relay": "drivers.gpio.digital_outputs:Relay",
    "led": "drivers.gpio.digital_outputs:Led",
    "buzzer": "drivers.gpio.digital_outputs:Buzzer",
    "pwm_led": "drivers.gpio.pwm_outputs:PwmLed",
    "servo": "drivers.gpio.pwm_outputs:Servo",
    "angular_servo": "drivers.gpio.pwm_outputs:AngularServo",
    "motor": "drivers.gpio.motor:Motor",
}
