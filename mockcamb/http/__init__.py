"""The HTTP layer: the Flask app, the status fast path, the dashboard and the OpenAPI document."""
