"""Application services: plain values in, a SQLAlchemy session as the unit of work.

Each public service function validates, changes state, writes its audit and
outbox rows, and commits; on a refusal it rolls back and raises a DomainError,
so the database is left exactly as it was.
"""
