"""Alerts to Slack: the webhook notifier (Block Kit rendering, a queue that never blocks the
stream) and the routing of brand alerts to the webhooks the alert rules name."""
