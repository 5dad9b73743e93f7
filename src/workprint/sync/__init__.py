"""Device side of the fleet: sealing sessions into chunks, review/approval, outbox, client.

Data flows one way: session store -> review (approve) -> outbox (sealed chunks) -> collector.
"""
