"""The pipeline's stage functions and the dead-letter handler, as Cloud Functions."""
