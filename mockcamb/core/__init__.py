"""The domain: statuses, scenarios, the clock, settings and the emulator; no transport."""
