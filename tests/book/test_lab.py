"""`make lab` must render MyST (admonitions, dropdowns, math) in JupyterLab."""

import pathlib
import shutil
import subprocess
import sys

import pytest

BIN = pathlib.Path(sys.executable).parent


def test_jupyterlab_myst_is_installed_enabled_and_compatible():
    jupyter = BIN / "jupyter" if (BIN / "jupyter").exists() else shutil.which("jupyter")
    if jupyter is None:
        pytest.skip("jupyter is not installed in this environment")
    out = subprocess.run(
        [str(jupyter), "labextension", "list"], capture_output=True, text=True, timeout=120, check=True
    )
    text = out.stdout + out.stderr
    line = next((ln for ln in text.splitlines() if "jupyterlab-myst" in ln and " v" in ln), None)
    assert line is not None, f"jupyterlab-myst not listed:\n{text}"
    assert "enabled" in line
    # "OK" marks an extension compatible with this JupyterLab; an incompatible one is listed
    # with "X" and is not loaded.
    assert "OK" in line, f"jupyterlab-myst is not compatible with this JupyterLab: {line}\n{text}"
    assert "not compatible" not in text
