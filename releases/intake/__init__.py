"""Registry intake: releases that arrive from MLflow's model registry.

- `signature`: MLflow's webhook signature (headers, HMAC-SHA256, the timestamp's tolerance)
  and which of a system's live secrets signed a delivery;
- `registry`: what the import reads back from MLflow over its REST API (the model version,
  its run's metrics, the MLmodel file whose sha256 is the model component's digest);
- `prefill`: the draft a new model version becomes (the stack of the release live in the
  system's first environment with the model replaced, the card to review, the categories).

The state changes (secrets, follows, deliveries, imports) are releases.services.intake's; the
webhook endpoint is releases/api/intake.py and the import's task releases.tasks.
"""
