"""Settings: the typed table, how values are read, the project root, packaged resources."""
