"""Several processes training or measuring one run, on PyTorch's own engine (torch.distributed).

``torchrun --nproc-per-node N -m vaelab train ...`` starts N processes with RANK, WORLD_SIZE,
LOCAL_RANK and the rendezvous address in their environment; ``join`` reads it and starts the
process group: gloo for CPU tensors, and NCCL for CUDA tensors where there is a GPU. A
``World`` says which process this is and offers the few collective operations that vaelab
needs. Without torchrun the world is one process, and every operation is a no-op.

Every process holds the whole dataset and takes its own rows of each batch (``World.rows``);
only the first process (rank 0) writes files and prints.
"""

from __future__ import annotations

import datetime
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import torch
import torch.distributed as dist

from vaelab.errors import Relayed, VaelabError
from vaelab.files import exit_now, signals_to

T = TypeVar("T")
TIMEOUT = datetime.timedelta(minutes=30)  # a collective that waits longer is a lost process


@dataclass(frozen=True)
class World:
    """The processes of one run: this one's ``rank`` of ``size``, and its ``local_rank`` on
    its machine (the GPU it uses)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Whether this is rank 0, the process that writes files and prints."""
        return self.rank == 0

    def rows(self, n: int) -> slice:
        """This process's contiguous share of n rows: sizes differ by one at most."""
        return slice(n * self.rank // self.size, n * (self.rank + 1) // self.size)

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` summed over the processes, in place; itself in a world of one."""
        if self.size > 1:
            dist.all_reduce(tensor)
        return tensor

    def most(self, value: int) -> int:
        """The largest of the processes' ``value`` (a signal that one heard, say)."""
        if self.size == 1:
            return value
        box = torch.tensor([value])
        dist.all_reduce(box, op=dist.ReduceOp.MAX)
        return int(box[0])

    def first(self, value: Any) -> Any:
        """Rank 0's ``value`` (a small picklable object), on every process."""
        if self.size == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def from_main(self, make: Callable[[], T]) -> T:
        """What ``make()`` returns on rank 0 (run there alone: it makes a folder, say), on
        every process; its VaelabError is raised on every process (as ``Relayed`` on the
        others, which leave it to rank 0 to say)."""
        if self.size == 1:
            return make()
        outcome: tuple[str, Any] | None = None
        failed: VaelabError | None = None
        if self.main:
            try:
                outcome = ("value", make())
            except VaelabError as err:
                outcome, failed = ("error", str(err)), err
        kind, value = self.first(outcome)
        if failed is not None:
            raise failed
        if kind == "error":
            raise Relayed(value)
        return value

    def main_first(self, make: Callable[[], T]) -> T:
        """``make()`` on every process, rank 0 first (it may download what the others then
        find); rank 0's VaelabError is raised on every process."""
        if self.size == 1:
            return make()
        made: list[T] = []
        self.from_main(lambda: made.append(make()))  # only its error, or None, goes out
        return made[0] if self.main else make()

    def mine(self, n: int) -> range:
        """The indices of this process's contiguous share of n items (batches, say)."""
        rows = self.rows(n)
        return range(rows.start, rows.stop)

    def ballot(self, count: int) -> Ballot:
        """A ``Ballot`` of ``count`` flags."""
        return Ballot(self, count)


SINGLE = World()


class Ballot:
    """Flags that every process must act on at the same step (stop now, write a checkpoint):
    each process casts its own, and all get the same answer, true where any process said so.

    A round trip between processes costs about half a millisecond on a loaded CPU, as long
    as a small training step, so the votes of one step are counted while the next one
    computes: a process acts one step after it asked. In a world of one, at once.
    """

    def __init__(self, world: World, count: int) -> None:
        self.world, self.count = world, count
        self._pending: tuple[Any, torch.Tensor] | None = None

    def cast(self, *flags: bool) -> tuple[bool, ...]:
        if self.world.size == 1:
            return flags
        votes = torch.tensor([int(flag) for flag in flags], dtype=torch.int32)
        work = dist.all_reduce(votes, op=dist.ReduceOp.MAX, async_op=True)
        previous, self._pending = self._pending, (work, votes)
        if previous is None:
            return (False,) * self.count
        previous[0].wait()
        return tuple(bool(v) for v in previous[1].tolist())

    def close(self) -> None:
        """Wait for the last count, so that no collective is left in flight."""
        if self._pending is not None:
            self._pending[0].wait()
            self._pending = None


def launched() -> bool:
    """Whether torchrun (or another launcher with its environment) started this process as
    one of several."""
    return processes_in_env() > 1


def processes_in_env(name: str = "WORLD_SIZE") -> int:
    """The processes that torchrun's environment says there are (1 where it says nothing),
    or an error in one line where it holds no whole number."""
    text = os.environ.get(name, "1")
    if not text.strip().isdigit():
        raise VaelabError(f"{name} is {text!r}, not a number of processes; unset it, or start "
                          f"vaelab with torchrun, which sets it")
    return int(text)


def join(device_type: str = "cpu") -> World:
    """The world this process belongs to: the process group already started, or the one that
    torchrun's environment describes (started here, with NCCL beside gloo for ``cuda``), or a
    world of one."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(),
                     int(os.environ.get("LOCAL_RANK", "0")))
    if not launched():
        return SINGLE
    if not dist.is_available():
        raise VaelabError("this PyTorch has no torch.distributed; run one process, without "
                          "torchrun")
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise VaelabError(f"WORLD_SIZE is set but {', '.join(missing)} "
                          f"{'is' if len(missing) == 1 else 'are'} not; start the processes "
                          f"with torchrun")
    backend = "cpu:gloo,cuda:nccl" if device_type == "cuda" else "gloo"
    try:
        # While the processes meet, Ctrl-C and SIGTERM end this one at once, as they would
        # any program: the wait for the others (up to TIMEOUT, for one that never comes) is in
        # C++, where Python's handlers (vaelab's stop after a step) do not run, and nothing is
        # made yet that a stop should keep.
        with signals_to(signal.SIG_DFL):
            dist.init_process_group(backend, timeout=TIMEOUT)
    except (RuntimeError, ValueError) as err:
        raise VaelabError(f"could not start the process group ({_first_line(err)})") from None
    return join(device_type)


def leave() -> None:
    """End the process group, if one was started: what a process does before it exits."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def end(status: int = 0) -> NoReturn:
    """Leave the process group and end this process with ``status`` at once, its output
    flushed, without Python's teardown: how each of torchrun's processes should finish.

    gloo's worker threads let go of a finished collective a moment after the process has
    seen it finish. When that moment falls in Python's teardown (the process had nothing left
    to do), the last reference to a tensor of the collective drops in the worker thread,
    which must take the interpreter's lock to free it and is ended instead, and the process
    aborts ("terminate called without an active exception", exit -6) with nothing wrong in
    the run: 2 of 166 short two-process runs on two busy cores. Everything vaelab writes is
    closed before it returns, so skipping the teardown loses nothing."""
    leave()
    exit_now(status)


def local_device(device: torch.device, world: World) -> torch.device:
    """In one of several processes on a machine, CUDA means the GPU of this process's local
    rank."""
    if device.type == "cuda" and world.size > 1:
        return torch.device("cuda", world.local_rank % max(1, torch.cuda.device_count()))
    return device


def lost_peer(err: BaseException) -> bool:
    """Whether ``err`` is a collective that failed because another process went away."""
    return isinstance(err, getattr(dist, "DistError", ())) or (
        isinstance(err, RuntimeError) and any(word in str(err) for word in _LOST))


def peer_gone(err: BaseException) -> bool:
    """Whether ``err`` says that another process closed its connection: it went away, and no
    fault of this process's own (NCCL's, a timeout) is taken for that."""
    return isinstance(err, RuntimeError) and any(word in str(err) for word in _GONE)


_GONE: Sequence[str] = ("Connection closed by peer", "Connection reset by peer", "Broken pipe")
_LOST: Sequence[str] = (*_GONE, "gloo", "NCCL")  # in a collective: taken for the others' loss


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]
