"""Tools the models use (the code sandbox, workspace reading)."""
