"""A local server speaking the part of the Freshsales REST API this project uses.

``python -m extract.sandbox --help`` runs it; tests and scripts use::

    from extract.sandbox import SandboxConfig, serve_in_thread

    with serve_in_thread(SandboxConfig(seed=42, deals=1500)) as sb:
        sb.base_url, sb.api_key, sb.state

See docs/sandbox.md for the data, the dirt and the faults it serves.
"""

from .config import SandboxConfig
from .server import RunningSandbox, serve_in_thread
from .store import Store

__all__ = ["RunningSandbox", "SandboxConfig", "Store", "serve_in_thread"]
