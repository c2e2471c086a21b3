"""Where requests are kept: one store written once (``contract``, with the rows of ``rows``) on two databases, a
SQLite file for one process (``sqlite``) and PostgreSQL for several (``postgres``). ``DATABASE_URL`` says which
(``urls``, which imports nothing else of the bot), and ``opening.open_store`` opens it."""
