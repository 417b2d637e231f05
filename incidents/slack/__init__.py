"""Incidents in Slack: one message per incident in its system's channel, updated in place as
the incident and its rollback move, with ROLL BACK NOW, Confirm, Dismiss and Open war room
on it; and the interactivity endpoint that takes those presses.

- client: the system's WebClient (slack_sdk) and what an error of Slack's means;
- messages: the message's Block Kit, and posting or updating it (a task, after commit);
- people: the Failsafe user behind a Slack user (the email Slack verified);
- dialogs: the confirmation modals ROLL BACK NOW and Dismiss open;
- interactivity: the endpoint: Slack's signature, then the same services as the war room.
"""
