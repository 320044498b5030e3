"""Internal modules of the Durable Task SDK (protocol bindings, replay engine, helpers)."""
