"""``workprint view``: a local web page to step through recorded episodes."""
