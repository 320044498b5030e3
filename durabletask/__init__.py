"""Durable Task SDK for Python."""
