"""One Textual Screen per view. Views only: they reach the facade as `self.app.engine` and import
core's types, never console/."""

from pathlib import Path

#: the stylesheet of every view, beside the screens it styles
STYLES = Path(__file__).with_name("console.tcss")
