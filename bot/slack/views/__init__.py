"""What people see, as pure functions from the domain's values to Slack text and Block Kit blocks: the
request card and the replies in its thread (``card``), the card once decided, in each state, and what the
requester is told (``outcome``), listings, history, choices, the report and the Home tab (``lists``), private
notes (``notes``), the watch channel (``watch``) and the form (``modal``); ``common`` holds the pieces they
share. Every text from elsewhere is cut to a budget before it is escaped (``bot.slack.blocks``)."""
