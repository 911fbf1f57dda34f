"""Polling clients for the conformance tests: CAMB's documented examples (bugs kept), the
official SDK's README loop and the community ``cambai`` 0.1.8 client (copied faithfully, bugs
kept), a careful poller on the official SDK, and deliberately broken ones. Each exposes
``poll(base_url, api_key, endpoint, task_id)``."""
