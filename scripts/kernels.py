"""Kernels that talk over Unix sockets, for the suite and for ``make notebooks``.

jupyter_client picks a kernel's five TCP ports by asking the system for free ones, closes them,
and the kernel binds them a moment later. With six test workers opening Redis connections (each
on an ephemeral port from the same range), a port was taken in that moment: the kernel died with
"Address already in use" and its notebook's test failed. A Unix socket's path cannot be taken that
way. Where there are no Unix sockets (Windows), kernels keep TCP.
"""
from __future__ import annotations

import os
import tempfile
import uuid

from jupyter_client.manager import AsyncKernelManager, KernelManager
from traitlets import HasTraits, default

TRANSPORT = "ipc" if os.name == "posix" else "tcp"


class SocketFiles(HasTraits):
    """What a kernel manager needs to start kernels on socket files of their own (mix in first)."""

    @default("transport")
    def _transport_default(self) -> str:
        return TRANSPORT

    @default("ip")
    def _ip_default(self) -> str:
        # For ipc the "ip" is the sockets' path prefix (a number is added per socket). jupyter_client's
        # default, "kernel-ipc" in the working directory, is the same for every kernel started there,
        # and it picks the numbers by looking for files that do not exist yet: two kernels starting at
        # once would share sockets. One prefix per kernel, in the temporary directory.
        if self.transport == "ipc":
            return os.path.join(_short_temporary_directory(), f"kernel-{uuid.uuid4().hex}")
        return super()._ip_default()  # type: ignore[misc]


SOCKET_PATH_MAX = 104  # bytes in a Unix socket's path, with its NUL: 108 on Linux, 104 on macOS


def _short_temporary_directory() -> str:
    """The temporary directory, or /tmp where its path would make a socket's path too long.

    A kernel's socket is "<dir>/kernel-<32 hex digits>-<n>": with a TMPDIR of 66 characters
    (nix, bazel, some CI sandboxes) every kernel failed to start ("File name too long").
    """
    directory = tempfile.gettempdir()
    if len(os.path.join(directory, "kernel-" + "0" * 32 + "-99").encode()) < SOCKET_PATH_MAX:
        return directory
    return "/tmp"


class SocketFileKernelManager(SocketFiles, KernelManager):
    """nbval's kernel manager, on socket files."""


class AsyncSocketFileKernelManager(SocketFiles, AsyncKernelManager):
    """nbclient's (``make notebooks``), on socket files."""


def use_socket_files_in_nbval() -> None:
    """Make nbval start its kernels with SocketFileKernelManager (it names KernelManager at each start)."""
    import nbval.kernel

    nbval.kernel.KernelManager = SocketFileKernelManager
