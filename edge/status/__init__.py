"""What an operator sees with `edge-agent status` and `edge-agent outbox`.

The running agent writes its side to the store (`journal`); the commands read the store
read-only beside it (`report`, `outbox_listing`).
"""
