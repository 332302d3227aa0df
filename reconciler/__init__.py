"""notify-reconciler: Alertmanager e-mail notifications from git."""

__version__ = "0.1.0"
