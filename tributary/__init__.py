"""Tributary: machine-learning models as an event-driven service on Google Cloud."""

__version__ = "0.1.0"
