"""One Textual Screen per view. Views only: they reach the facade as `self.app.engine` and import
core's types, never console/."""
