"""The bottom layer: settings, database base and unit of work, ORM models, journal, actors,
domain errors. Imports no Flask."""
