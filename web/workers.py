"""``serve --workers N``: uvicorn's supervisor, with a listening socket of its own for each worker.

uvicorn hands every worker the same listening socket. Then the worker whose event loop wakes first
accepts every connection waiting, so a burst of keep-alive connections (a proxy's pool, a load
balancer, the benchmark's loader) can all land on one worker while the other idles: measured
here, one worker spent 10 s of CPU and the other 0.02 s over a run of complete sign-ins, which
then reached 77% of what two hashing threads allow, against 93% when the connections were spread.

Here each worker slot gets its own socket bound to the same address with ``SO_REUSEPORT``, and
the kernel spreads new connections over the sockets by a hash of their addresses. A worker that
dies is replaced on its slot's socket, so no connection is left waiting on a socket nobody serves.
Linux only lets sockets of the same user join such a group; a port that something already
listens on is refused before the group is made, exactly as without it.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence

from uvicorn import Config
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process, logger

class AddressInUse(OSError):
    """The address is taken: another server listens there."""


def listening_sockets(host: str, port: int, count: int, *, backlog: int) -> list[socket.socket]:
    """``count`` sockets bound to ``host:port`` with SO_REUSEPORT, each for one worker."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    _refuse_if_taken(family, host, port)
    sockets = []
    for _ in range(count):
        # proto stated: uvicorn's protocol 0 kept asyncio from setting TCP_NODELAY on accepted
        # connections, and every answer in two writes waited ~40 ms for a delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.set_inheritable(True)
        sockets.append(sock)
    return sockets


def _refuse_if_taken(family: socket.AddressFamily, host: str, port: int) -> None:
    # A socket without SO_REUSEPORT cannot bind where a group (or any listener) already is.
    with socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise AddressInUse(f"cannot listen on {host}:{port}: {error.strerror}") from None


class SocketPerWorker(Multiprocess):
    """uvicorn's Multiprocess, with worker slot ``i`` always serving ``sockets[i]``.

    The three methods that start workers are uvicorn's own (0.55), with ``_start(slot)`` where
    uvicorn passes every worker the same sockets.
    """

    def __init__(self, config: Config, sockets: Sequence[socket.socket]) -> None:
        super().__init__(config, sockets=list(sockets))
        assert len(self.sockets) == self.processes_num

    def _start(self, slot: int) -> Process:
        process = Process(self.config, [self.sockets[slot]])
        process.start()
        return process

    def init_processes(self) -> None:
        for slot in range(self.processes_num):
            self.processes.append(self._start(slot))

    def restart_all(self) -> None:
        """On SIGHUP: each worker's replacement serves before the old one is retired."""
        for slot, old_process in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new_process = self._start(slot)
            if not new_process.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new_process.kill()
                new_process.join()
                if not self.should_exit.is_set():
                    logger.error(f"New worker [{new_process.pid}] was not ready in time; restart aborted.")
                return
            old_process.terminate()
            old_process.join()
            self.processes[slot] = new_process

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for slot, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung: make sure it is gone
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                # It failed before serving (the app, the database): every restart would fail alike.
                logger.error(f"Worker [{process.pid}] failed to start, stopping.")
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            logger.info(f"Worker [{process.pid}] died; starting another on its socket")
            self.processes[slot] = self._start(slot)
