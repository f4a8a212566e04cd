"""The chat's features, one module each: the commands it answers, the events it renders,
the refusals it words and the typed lines it takes.

Every module exports four registries, which :mod:`bots.dialogue.engine` merges (a
key registered twice is an error at import):

- ``COMMANDS``: grammar command name -> handler(step, command)
- ``EVENTS``: event class -> handler(step, event)
- ``FAILURES``: intent class -> handler(step, failed), for the ``Failed`` answer to it
- ``TEXT_STEPS``: (flow name, step) -> handler(step, flow, text), for lines typed as data
"""
