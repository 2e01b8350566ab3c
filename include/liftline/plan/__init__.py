"""The quarter planner: media and promotions planned together (see types.py for the shapes)."""
