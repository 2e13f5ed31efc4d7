"""The course map (the home page)."""
