"""The 3CX XAPI: the client (``client``), its lists (``lists``), what its answers mean (``errors``) and how its
entities are read (``models``)."""
