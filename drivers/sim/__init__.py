"""Simulated hardware: a fake SMBus with register-level chip models, mock pins, a 1-Wire tree,
and an environment model whose physical quantities respond to actuators.

Fakes are first-class backends: the same driver code runs unchanged over them.
"""
