"""The serving entrypoint a package carries (models package copies serve.py into the build context)."""
