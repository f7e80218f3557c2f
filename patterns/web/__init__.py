"""Chapter 09: the patterns behind a real ASGI web app, on patterns.aio.

``create_app()`` builds the shop (Starlette), ``Served`` runs it under uvicorn on a free
127.0.0.1 port in a thread of its own, and ``load()`` sends it concurrent traffic with httpx.
"""
from .app import Settings, create_app
from .load import Load, load
from .serve import Served

__all__ = ["Settings", "create_app", "Served", "Load", "load"]
