"""The domain: its words for 3CX's entries (``entries``), what an unblock request is and how it moves
(``model``, ``outcomes``, ``transitions``), who may do what (``policy``), finding entries from what people
know (``lookup``), and the service that owns a request's life and decides it (``requests``), with its helper
for carrying out a decision in 3CX (``execution``). It speaks to the store, to 3CX's lists and to the place
where people see requests only through the protocols in ``ports``, and imports no chat client, nor 3CX's
client, nor a database."""
