"""The cough classifier: an uploaded recording → dry, wet, or normal (not confident).

Serving (``app``, ``decode``, ``validate``, ``features``, ``model``) needs numpy,
PyAV and LiteRT only; ``train`` is the one module that imports TensorFlow, lazily.
"""
