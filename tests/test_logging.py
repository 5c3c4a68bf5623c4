"""reba logs as a library does: importing it attaches only a NullHandler and keeps propagation
on, so an application's logging sees reba's messages; the ``reba`` command prints them."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import reba
from reba.cli.logs import configure_cli_logging

SRC = Path(__file__).resolve().parents[1] / "src"

PROBE = """
import json, logging
root_before = list(logging.getLogger().handlers)
import reba, reba.serve, reba.engine, reba.models
found = {}
for name in ["reba", *logging.root.manager.loggerDict]:
    logger = logging.getLogger(name)
    if name == "reba" or name.startswith("reba."):
        found[name] = {
            "handlers": [type(h).__name__ for h in logger.handlers],
            "propagate": logger.propagate,
            "level": logger.level,
        }
print(json.dumps({"loggers": found, "root_unchanged": logging.getLogger().handlers == root_before}))
"""


def test_importing_reba_attaches_no_handler_but_a_null_handler():
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert seen["root_unchanged"]
    assert seen["loggers"]["reba"] == {"handlers": ["NullHandler"], "propagate": True, "level": 0}
    for name, state in seen["loggers"].items():
        assert state["propagate"], name
        assert set(state["handlers"]) <= {"NullHandler"}, (name, state)


def test_an_applications_handler_receives_reba_warnings(caplog):
    caplog.set_level(logging.WARNING)
    logging.getLogger("reba.engine.embed").warning("reba: a library warning")
    assert [r.name for r in caplog.records] == ["reba.engine.embed"]
    assert reba.__name__ == "reba"


def test_the_command_line_prints_reba_messages(capsys):
    configure_cli_logging()
    configure_cli_logging()  # once per process, not one handler per call
    logging.getLogger("reba.models.gguf").info("reba: converting a model")
    assert capsys.readouterr().err == "reba: converting a model\n"
