"""Object detector backends, one module each, registered by name (see ``..registry``)."""
