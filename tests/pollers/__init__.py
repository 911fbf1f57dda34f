"""Polling clients for the conformance tests: CAMB's documented examples (bugs kept), one on
the official SDK, and deliberately broken ones. Each exposes ``poll(base_url, api_key,
endpoint, task_id)``."""
