"""The config: its schema and defaults (`schema`), the checks made before anything
runs (`validation`)."""
