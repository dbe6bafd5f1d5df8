"""Durable jobs: the runner claims queued jobs from the store and runs each in its own process."""
