"""An optional Jupyter server setting that halves the jam's browser round trip.

Measured with the browser test (tests/test_browser.py): a tick reaches the kernel in ~3 ms and
the kernel answers in ~2 ms, but the answer took ~40 ms more to reach the browser. The kernel
sends three small messages per tick (status busy, the plan, status idle), and jupyter_server's
websocket leaves Nagle's algorithm on, so the plan waits for the browser's delayed ACK of the
first (Linux delays ACKs up to 40 ms). Turning Nagle off on kernel websockets removes that wait:

    jupyter lab --ServerApp.kernel_websocket_connection_class=minigapt.live.lab.NoDelayConnection

Nothing depends on it: chords are committed beats ahead and your notes sound in the browser at
once, so the jam sounds the same either way; it makes the kernel's plans arrive sooner.
"""
from __future__ import annotations

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection


class NoDelayConnection(ZMQChannelsWebsocketConnection):
    """jupyter_server's kernel websocket connection with TCP_NODELAY set (see the module doc)."""

    def connect(self):
        self.websocket_handler.set_nodelay(True)
        return super().connect()
