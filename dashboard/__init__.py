"""Presentation: the Dash app. Never writes SQL; asks layers/ for data."""
