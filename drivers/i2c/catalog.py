"""Driver names this package provides, as ``name -> "module:Class"``.

Kept free of imports so that listing drivers never imports gpiozero or smbus2.
"""

DRIVERS: dict[str, str] = {
    "bme280": "drivers.i2c.bme280:BME280",
    "bmp280": "drivers.i2c.bmp280:BMP280",
    "sht3x": "drivers.i2c.sht3x:SHT3x",
    "bh1750": "drivers.i2c.bh1750:BH1750",
    "ads1115": "drivers.i2c.ads1115:ADS1115",
    "ina219": "drivers.i2c.ina219:INA219",
    "mcp9808": "drivers.i2c.mcp9808:MCP9808",
    "htu21d": "drivers.i2c.htu21d:HTU21D",
    "si7021": "drivers.i2c.htu21d:Si7021",
    "pca9685": "drivers.i2c.pca9685:PCA9685Channel",
    "pca9685_servo": "drivers.i2c.pca9685:PCA9685Servo",
    "pcf8574": "drivers.i2c.pcf8574:PCF8574Output",
    "pcf8574_input": "drivers.i2c.pcf8574:PCF8574Input",
}
