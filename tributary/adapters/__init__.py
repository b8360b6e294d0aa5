"""Adapters implementing the ports: ``local`` (embedded) and ``gcp``."""
