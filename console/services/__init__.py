"""The engine's domain services, one module each: nodes, rollouts (and the durable operations behind
them), jobs (attempts and their triage), autofix (history, recommender, approval queue), models, audit.

Each takes typed inputs and returns core's types or plain data; none renders anything. They share one
`Wiring` (wiring.py): the settings, the store, the audit path, the backend and the pieces built on them.
`console.engine.Engine` is the facade over them that the CLI and the TUI call.
"""
