"""The application: the Engine facade, the CLI and the Textual app."""

__version__ = "0.1.0"
