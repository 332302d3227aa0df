"""The names the render owns in a config: what marks an entry as the reconciler's."""

PREFIX = "notify-reconciler/"
"""Receivers (and time intervals) whose name starts with this are the reconciler's."""
DISCARD_RECEIVER = PREFIX + "discard"
MARK = "managed by notify-reconciler"
"""Every comment the renderer writes contains this, so a re-render can find and replace it."""
