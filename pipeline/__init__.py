"""Checkout-only alias: the import package is ``nodemcu_pipeline`` (``pipeline`` is taken on PyPI).

Kept so that ``python -m pipeline.virtual`` keeps working from a checkout, as the design's contract
says; it is not part of the installed distribution.
"""
