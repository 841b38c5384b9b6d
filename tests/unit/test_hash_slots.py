"""Machine-wide password-hash slots: a slot held by one process is not handed to another."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from web.hash_slots import HashSlots

HOLDER = """
import sys
from pathlib import Path
from web.hash_slots import HashSlots
with HashSlots(Path(sys.argv[1]), int(sys.argv[2])).hold():
    print("held", flush=True)
    sys.stdin.readline()
"""


def _holder(directory: Path, count: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(directory), str(count)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def _release(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("\n")
    process.stdin.flush()
    assert process.wait(timeout=30) == 0


def _take_in_thread(directory: Path, count: int) -> threading.Event:
    """Take a slot in a thread of this process; the event is set once it is held."""
    entered = threading.Event()

    def take() -> None:
        with HashSlots(directory, count).hold():
            entered.set()

    threading.Thread(target=take, daemon=True).start()
    return entered


def test_a_slot_held_in_another_process_makes_this_one_wait(tmp_path: Path) -> None:
    holder = _holder(tmp_path, 1)
    entered = _take_in_thread(tmp_path, 1)
    try:
        assert not entered.wait(timeout=0.5), "got the slot while another process held it"
    finally:
        _release(holder)
    assert entered.wait(timeout=30), "the slot was not handed over once released"


def test_with_two_slots_a_second_holder_does_not_wait(tmp_path: Path) -> None:
    holder = _holder(tmp_path, 2)
    try:
        assert _take_in_thread(tmp_path, 2).wait(timeout=30)
    finally:
        _release(holder)


def test_a_holder_that_dies_frees_its_slot(tmp_path: Path) -> None:
    holder = _holder(tmp_path, 1)
    holder.kill()
    holder.wait(timeout=30)
    assert _take_in_thread(tmp_path, 1).wait(timeout=30), "a dead process's lock outlived it"
