"""The model file: parsed dataclasses (:mod:`.model`), the parser and the validator."""
