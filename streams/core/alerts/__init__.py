"""Alerts: the value Driftline emits (``alert``) and the rule that makes one alert per episode
(``alert_rule``)."""
