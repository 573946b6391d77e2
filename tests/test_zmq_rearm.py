"""The notebook-execution stall (issue 12, part 1), reproduced deterministically.

A ``zmq.asyncio`` DEALER waits for a reply with ``poll()``, as nbclient waits for a cell's
``execute_reply``. The reply arrives, and before the event loop gets to it a message is sent
through ``Session.send`` on the same socket, as nbclient's ``OutputWidget`` does while it
processes IOPub. Without ``_ext/zmq_rearm`` that send drains the socket's edge-triggered
``ZMQ_FD``, and the poll sleeps on although the reply is waiting; with it, the poll wakes.
"""

import asyncio
import importlib.util
import pathlib
import select
import time

import pytest
import zmq
import zmq.asyncio
from jupyter_client.session import Session

ROOT = pathlib.Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("zmq_rearm", ROOT / "_ext" / "zmq_rearm.py")
zmq_rearm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(zmq_rearm)


async def _reply_then_shadow_send() -> tuple[bool, bool]:
    """Return (the poll woke up, a reply is waiting on the socket)."""
    ctx = zmq.asyncio.Context()
    kernel = zmq.Context()
    router = kernel.socket(zmq.ROUTER)
    dealer = ctx.socket(zmq.DEALER)
    try:
        port = router.bind_to_random_port("tcp://127.0.0.1")
        dealer.connect(f"tcp://127.0.0.1:{port}")
        session = Session()
        session.send(dealer, "execute_request")
        ident = router.recv_multipart()[0]

        waiting = asyncio.ensure_future(dealer.poll(timeout=60_000))
        for _ in range(5):  # let the poll arm itself on the socket's FD
            await asyncio.sleep(0)
        assert not waiting.done()

        # The loop is busy from here on (as with a burst of IOPub messages): no await.
        router.send_multipart([ident, b"execute_reply"])
        readable, _, _ = select.select([dealer.getsockopt(zmq.FD)], [], [], 10)
        assert readable, "the reply never signalled the socket's FD"
        time.sleep(0.01)  # libzmq's send reads its mailbox only if >~1 ms passed since it last did
        session.send(dealer, "comm_msg")  # nbclient's OutputWidget.sync_state does this

        for _ in range(20):  # give the loop every chance to notice the reply
            await asyncio.sleep(0)
        woke = waiting.done()
        waiting.cancel()
        reply_waiting = bool(zmq.Socket.shadow(dealer.underlying).get(zmq.EVENTS) & zmq.POLLIN)
        return woke, reply_waiting
    finally:
        dealer.close(linger=0)
        router.close(linger=0)
        ctx.term()
        kernel.term()


@pytest.fixture
def rearm_state():
    was = zmq_rearm.installed()
    yield
    (zmq_rearm.install if was else zmq_rearm.uninstall)()


def test_shadow_send_robs_the_poll_of_its_wakeup_without_the_fix(rearm_state):
    zmq_rearm.uninstall()
    woke, reply_waiting = asyncio.run(_reply_then_shadow_send())
    assert reply_waiting, "the reply should be waiting on the socket"
    assert not woke, "without the fix the poll should sleep through a waiting reply (the stall)"


def test_fix_wakes_the_poll_after_a_shadow_send(rearm_state):
    zmq_rearm.install()
    woke, reply_waiting = asyncio.run(_reply_then_shadow_send())
    assert reply_waiting
    assert woke, "the poll must see the reply that is waiting on the socket"


def test_install_is_idempotent_and_reversible(rearm_state):
    original = Session.send
    zmq_rearm.uninstall()
    bare = Session.send
    zmq_rearm.install()
    zmq_rearm.install()
    assert zmq_rearm.installed() and Session.send.__wrapped__ is bare
    zmq_rearm.uninstall()
    assert Session.send is bare and not zmq_rearm.installed()
    Session.send = original
