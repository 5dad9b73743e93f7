"""The collector: an ASGI app that receives sealed chunks from enrolled devices.

Storage sits behind two small interfaces - :mod:`.blobs` (local dir | S3) and :mod:`.meta`
(SQLite | PostgreSQL) - chosen by URL in :mod:`.config`. :mod:`.collector` holds the rules
(verify, store, erase, retain), :mod:`.app` only maps them to HTTP.
"""
