"""`dataspace serve` stops when it is told to: nothing keeps answering after a SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_exits_on_signal_and_leaves_nothing_answering(home, sig, free_port):
    port = free_port()
    env = dict(os.environ, DATASPACE_HOME=str(home), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "data_products", "serve", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _answers(url):
            assert proc.poll() is None, "serve exited before answering"
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.3)
        proc.send_signal(sig)
        proc.wait(20)
        # The whole process group is gone: no Streamlit child was left behind.
        with pytest.raises(ProcessLookupError):
            os.killpg(proc.pid, 0)
        assert not _answers(url)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
