"""Background work on RQ: queues, thin jobs, the outbox relay and periodic schedules."""
