"""The executable contract of CAMB.AI's task-status endpoints: ``pytest contract_tests``."""
