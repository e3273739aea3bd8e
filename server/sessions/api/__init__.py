"""The Python API (docs/api.md): notebook handles, cell views, a loop thread."""
