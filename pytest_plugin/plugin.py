"""pytest11 entry point of the Durable Task plugin."""
