"""Monitors that watch what the models predicted against what happened (issue 6: lift)."""
