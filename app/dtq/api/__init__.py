"""The FastAPI control plane."""
