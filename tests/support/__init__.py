"""Helpers the three test tiers share: data paths, polling waits, a fake Slack endpoint, the broker and
worker-process fixtures. Plain modules, imported where needed; a tier's conftest.py names the fixtures
it offers, so a unit test cannot reach the broker."""
