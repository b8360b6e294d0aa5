"""Apps served by the pipeline: one package per model (see ``tributary.apps.REGISTRY``)."""
