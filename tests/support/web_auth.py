"""The web token the auth tests use, a wrong one, and the header forms a client may send it in."""

from __future__ import annotations

import base64

TOKEN = "web-auth-test-token-0123456789"
WRONG = "web-auth-test-token-9876543210"
NO_TOKEN = {"BRANDPULSE_WEB_TOKEN": "", "BRANDPULSE_WEB_ALLOW_UNAUTHENTICATED": "false"}


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
