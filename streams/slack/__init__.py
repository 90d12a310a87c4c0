"""Alerts to Slack: every message rendered in one place (:mod:`streams.slack.messages`, with the text
safety of :mod:`streams.slack.text`), the webhook notifier that only sends (:mod:`streams.slack.notifier`:
a queue that never blocks the stream) and the routing of brand alerts to the webhooks the alert rules
name (:mod:`streams.slack.routing`)."""
