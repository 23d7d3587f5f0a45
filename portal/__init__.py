"""Billing portal for the online cinema: Flask application package."""
