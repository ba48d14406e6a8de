"""The master key file: processes starting together on a fresh data directory agree on one key."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

from stellwerk.keyfile import KEY_FILE, load_or_create_master_key


def _load(data_dir: Path, start: float, results: multiprocessing.Queue[bytes]) -> None:
    time.sleep(max(0.0, start - time.time()))
    results.put(load_or_create_master_key(data_dir, None))


def test_processes_racing_on_a_fresh_directory_get_the_same_key(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue[bytes] = context.Queue()
    start = time.time() + 0.3
    processes = [context.Process(target=_load, args=(tmp_path, start, results)) for _ in range(8)]
    for process in processes:
        process.start()
    keys = {results.get(timeout=30) for _ in processes}
    for process in processes:
        process.join(10)
    assert len(keys) == 1
    assert keys == {(tmp_path / KEY_FILE).read_bytes().strip()}
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600


def test_a_key_file_being_written_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    path.touch(mode=0o600)  # created by another process, its key not written yet
    writer = threading.Timer(0.2, path.write_bytes, args=(b"written-key\n",))
    writer.start()
    assert load_or_create_master_key(tmp_path, None) == b"written-key"
    writer.join()


def test_a_configured_secret_wins(tmp_path: Path) -> None:
    assert load_or_create_master_key(tmp_path, "configured") == b"configured"
    assert not (tmp_path / KEY_FILE).exists()
