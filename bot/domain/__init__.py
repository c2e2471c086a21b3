"""The domain: what an unblock request is and how it moves (``model``, ``outcomes``), who may do what
(``policy``), finding entries from what people know (``lookup``), deciding (``decisions``) and carrying
out a decision in 3CX (``execution``). It speaks to the store and to 3CX's lists only through the
protocols in ``ports``, and imports neither Slack, nor aiohttp, nor a database driver."""
