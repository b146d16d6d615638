"""Driver names this package provides, as ``name -> "module:Class"``.

Kept free of imports so that listing drivers never imports gpiozero or smbus2.
"""

DRIVERS: dict[str, str] = {
    "ds18b20": "drivers.onewire.ds18b20:Ds18b20",
}
