"""Text2Brain: a free-text query → a predicted brain activation map + the most similar articles.

Serving (``app``, ``query``, ``model``, ``index``, ``volume``, ``preview``) needs numpy,
ONNX Runtime, tokenizers, nibabel and pillow only; ``train`` (and the ``encoder`` /
``decoder`` networks it builds) is where torch and sentence-transformers are imported.
"""
