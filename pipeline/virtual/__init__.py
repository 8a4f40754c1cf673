"""Checkout-only alias of ``nodemcu_pipeline.virtual``."""
