"""What a problem with a Slack setting says to do, where Slack's own pages are the only place to look."""

from __future__ import annotations

#: where people find a channel's id, which Slack shows nowhere else
FIND_CHANNEL_ID = (
    "in Slack, open the channel's details by clicking its name; its id, which starts with C or G, is at the bottom"
)

#: what a missing SLACK_SIGNING_SECRET is, and the other way to run without one
SIGNING_SECRET = (
    "the Signing Secret from the Slack app's Basic Information page, for HTTP mode; or, for Socket Mode, which needs "
    "neither it nor a public address, set SLACK_APP_TOKEN to an app-level token (xapp-…) instead"
)


def other_token(raw: str, prefix: str) -> str | None:
    """When the Slack token given is the other one (the app-level token for the bot token, or the reverse): which it
    is, and where it belongs; None otherwise."""
    if prefix == "xoxb-" and raw.startswith("xapp-"):
        return (
            "is the app-level token (xapp-…), which belongs in SLACK_APP_TOKEN; SLACK_BOT_TOKEN takes the Bot User "
            "OAuth Token (xoxb-…) from the Slack app's OAuth & Permissions page"
        )
    if prefix == "xapp-" and raw.startswith("xoxb-"):
        return (
            "is the bot token (xoxb-…), which belongs in SLACK_BOT_TOKEN; SLACK_APP_TOKEN takes an app-level token "
            "(xapp-…) from the Slack app's Basic Information page, under App-Level Tokens"
        )
    return None
