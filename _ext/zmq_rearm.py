"""Stop the notebook client from missing a cell's ``execute_reply`` (issue 12, part 1).

The stall
---------
nbclient (which ``make book`` reaches through myst-nb and jupyter-cache, and ``make test`` through
nbmake) waits for a cell's ``execute_reply`` with ``await shell_socket.poll(timeout)`` on a
``zmq.asyncio`` DEALER socket. ``zmq.asyncio`` cannot ask the event loop to watch a 0MQ socket
itself; it watches the socket's ``ZMQ_FD``, which libzmq makes readable only when a *command*
lands in the socket's mailbox (here: ``activate_read``, sent once when a message arrives in an
inbound pipe that the socket last found empty). Any libzmq call on that socket (``send``,
``recv``, ``getsockopt(ZMQ_EVENTS)``, ``zmq_poll``) processes pending commands and so drains the
FD. ``zmq.asyncio`` copes with that for the calls it makes itself: after each one it reads
``ZMQ_EVENTS`` and, if a waiting receive can now complete, schedules it (``_AsyncSocket.get``
and ``_schedule_remaining_events``).

``jupyter_client.Session.send`` does not go through the asyncio socket: when given a
``zmq.asyncio.Socket`` it sends through a blocking ``zmq.Socket.shadow`` of the same libzmq
socket, which the asyncio wrapper knows nothing about. nbclient sends on the shell socket
*while* it waits for the reply: every output that lands in an ``ipywidgets.Output`` widget makes
its ``OutputWidget.sync_state`` send a ``comm_msg`` through ``kc.shell_channel.send``. If the
kernel's ``execute_reply`` has just arrived (``activate_read`` is in the mailbox, the FD is
readable) and the event loop is still busy with the burst of IOPub messages that precedes it
(dozens of ``comm_open`` and ``Output`` updates in chapter 1's explorer), that shadow send
processes the command and drains the FD. The reply now sits in the pipe, but the FD is not
readable and will not become readable again: libzmq sends no new ``activate_read`` until the
pipe has been found empty. The poll therefore wakes only when its timeout fires (300 s in
``_config.yml``); nbclient's last ``zmq_poll(0)`` then finds the reply that was there all along.
Whether it happens depends on timing (libzmq's ``send`` only looks at its mailbox when about a
millisecond has passed since it last did, and the reply must land just before the send), hence
one run in five without load and most runs under load.

The fix
-------
After ``Session.send`` has sent through the shadow, read ``ZMQ_EVENTS`` through the asyncio
socket itself: ``zmq.asyncio``'s public ``Socket.get(zmq.EVENTS)`` checks the socket's level
state (a message is waiting or not, whatever happened to the FD) and schedules any waiting
``recv``/``poll`` future that can now complete. That is exactly the bookkeeping ``zmq.asyncio``
does after its own sends, so no reply can be left unseen, however the timing falls. It is
installed by ``install()``: ``make book`` loads this file as a Sphinx extension
(``_config.yml``), ``make test`` as a pytest plugin (``-p _ext.zmq_rearm``), and
``tools/stress_notebooks.py`` calls it directly.
"""

from __future__ import annotations

import asyncio
import functools

import zmq
import zmq.asyncio
from jupyter_client.session import Session

_MARK = "_aichip_zmq_rearm"


def _rearmed(send):
    @functools.wraps(send)
    def send_and_rearm(self, stream, *args, **kwargs):
        result = send(self, stream, *args, **kwargs)
        if isinstance(stream, zmq.asyncio.Socket) and not stream.closed:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return result  # no loop in this thread, so nothing here is awaiting the socket
            # zmq.asyncio's get(EVENTS) re-checks the socket's level state and wakes a waiting
            # recv/poll that the shadow send above may have robbed of its FD edge.
            stream.get(zmq.EVENTS)
        return result

    setattr(send_and_rearm, _MARK, True)
    return send_and_rearm


def install() -> None:
    """Make ``Session.send`` re-arm asyncio sockets after its shadow send (idempotent)."""
    if not getattr(Session.send, _MARK, False):
        Session.send = _rearmed(Session.send)


def uninstall() -> None:
    """Undo ``install()`` (for the regression test and for reproducing the stall)."""
    if getattr(Session.send, _MARK, False):
        Session.send = Session.send.__wrapped__


def installed() -> bool:
    """Whether ``Session.send`` currently re-arms asyncio sockets."""
    return bool(getattr(Session.send, _MARK, False))


# Sphinx extension entry point (make book: jupyter-book -> myst-nb -> jupyter-cache -> nbclient).
def setup(app):
    install()
    return {"parallel_read_safe": True, "parallel_write_safe": True}


# pytest plugin entry point (make test: pytest -p _ext.zmq_rearm --nbmake -> nbclient).
def pytest_configure(config):
    install()
