"""Where requests are kept: one contract (``contract``), the same rows and rules for every database
(``rows``), and two databases: a SQLite file for one process (``sqlite``), PostgreSQL for several
(``postgres``). ``DATABASE_URL`` says which (``urls``, which imports nothing else of the bot), and
``opening.open_store`` opens it."""
