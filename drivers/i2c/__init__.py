"""i2c drivers (see drivers/i2c/catalog.py for the names they register)."""
