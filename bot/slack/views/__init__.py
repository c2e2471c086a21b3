"""What people see, as pure functions from the domain's values to Slack text and Block Kit blocks: the
request card (``card``), the card once decided, in each state (``outcome``), listings, history and
choices (``lists``), and private notes (``notes``); ``common`` holds the pieces they share. Every text
from elsewhere is cut to a budget before it is escaped (``bot.slack.blocks``)."""
