"""unblock-bot: approve removals from a 3CX blocklist in Slack."""
