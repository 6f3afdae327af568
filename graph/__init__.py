"""The LangGraph workflow (route → plan → execute → reflect); built by the graph issue."""
