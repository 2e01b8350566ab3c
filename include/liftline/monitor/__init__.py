"""Monitors that watch what the models predicted against what happened (lift)."""

from .lift import monitor_lift

__all__ = ["monitor_lift"]
