"""onewire drivers (see drivers/onewire/catalog.py for the names they register)."""
