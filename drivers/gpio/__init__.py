"""gpio drivers (see drivers/gpio/catalog.py for the names they register)."""
