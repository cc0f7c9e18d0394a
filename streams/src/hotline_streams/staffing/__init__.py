"""Staffing: Erlang C agents needed, and the surge level for backup staff."""
