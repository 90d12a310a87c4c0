"""Reports read from the store, served by the worker, the dashboard service and the CLI alike:
sentiment trends, the brand views (why, share of voice, voices) and the dashboard pages."""
