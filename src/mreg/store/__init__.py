"""The only code that knows how the registry is laid out on disk."""
