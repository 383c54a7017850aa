"""The engine's base: domain types, store, backends, audit. Never imports textual."""
