"""Widgets, figure builders and translations shared by the pages."""
