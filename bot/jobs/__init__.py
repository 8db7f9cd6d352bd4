"""One job, from a member's request to a posted clip: the engine, Discord-free.

`model` holds a job and its states with their legal transitions; `service` drives each job
through them; the platform it reports to is the `notifier` port."""
