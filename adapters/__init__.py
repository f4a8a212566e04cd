"""Adapters to the outside world (WeChat): the only code that talks to their APIs."""
