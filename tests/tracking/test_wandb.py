"""Weights & Biases, offline: the run's transaction log (run-ID.wandb) read back record by record
with wandb's own protobuf messages, and the media files it names."""

from __future__ import annotations

import json
import struct
import time
import tomllib
import zlib
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

from gaespec.runs import SPEC, TRAINING
from gaespec.tracking.wandb import wandb_mode

pytest.importorskip("wandb")

from wandb.proto import wandb_internal_pb2  # noqa: E402

BLOCK = 32 * 1024  # the log's block size
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4  # how a record lies across blocks


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """No W&B credentials, settings or folders of the user's reach these tests."""
    for name in (
        "WANDB_API_KEY",
        "WANDB_IDENTITY_TOKEN_FILE",
        "WANDB_MODE",
        "WANDB_BASE_URL",
        "WANDB_PROJECT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONSOLE", "off")  # leave pytest's capture of stdout alone
    # no probes of the machine (a cloud's metadata address among them): nothing leaves it
    for name in ("WANDB__DISABLE_STATS", "WANDB__DISABLE_META", "WANDB__DISABLE_MACHINE_INFO"):
        monkeypatch.setenv(name, "true")


class Incomplete(Exception):
    """The log ends inside a record: wandb's service has not written all of it yet."""


def records(path: Path) -> list:
    """The records of a .wandb transaction log: after a 7-byte header (':W&B', 0xBEE1, version 0),
    LevelDB's log format: 32 KiB blocks of chunks, each a 7-byte header (CRC-32 of its type and
    data, length, type) and data; a record spans blocks as FIRST, MIDDLE…, LAST; a block's tail
    shorter than a header is zero padding. Each record is a wandb_internal_pb2.Record."""
    data = path.read_bytes()
    assert struct.unpack("<4sHB", data[:7]) == (b":W&B", 0xBEE1, 0)
    found, pending, at = [], b"", 7
    while at + 7 <= len(data):
        if BLOCK - at % BLOCK < 7:
            at += BLOCK - at % BLOCK
            continue
        checksum, length, kind = struct.unpack("<IHB", data[at : at + 7])
        chunk = data[at + 7 : at + 7 + length]
        if len(chunk) < length:
            raise Incomplete(f"{path}: a record cut short at byte {at}")
        assert checksum == zlib.crc32(chunk, zlib.crc32(bytes([kind]))), f"damaged at {at}"
        at += 7 + length
        pending += chunk
        if kind in (FULL, LAST):
            found.append(wandb_internal_pb2.Record.FromString(pending))
            pending = b""
    return found


def _key(item) -> str | tuple[str, ...]:
    return item.key or (item.nested_key[0] if len(item.nested_key) == 1 else tuple(item.nested_key))


def read_offline_run(folder: Path) -> dict:
    """An offline run's id, config, history (one dict per logged step), summary and exit code."""
    import wandb

    # run.finish() may return before wandb's service has written the log's last bytes (seen in
    # CI: a record cut short); the service closes the log when it ends
    wandb.teardown()
    (log,) = folder.glob("run-*.wandb")
    for _ in range(300):
        try:
            found = records(log)
            break
        except Incomplete:
            time.sleep(0.1)
    else:
        found = records(log)
    run = {"config": {}, "history": [], "summary": {}, "exit_code": None}
    for record in found:
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run["id"] = record.run.run_id
            run["config"].update(
                {u.key: json.loads(u.value_json) for u in record.run.config.update}
            )
        elif kind == "config":
            run["config"].update({u.key: json.loads(u.value_json) for u in record.config.update})
        elif kind == "history":
            run["history"].append({_key(i): json.loads(i.value_json) for i in record.history.item})
        elif kind == "summary":
            run["summary"].update(
                {_key(u): json.loads(u.value_json) for u in record.summary.update}
            )
        elif kind == "exit":
            run["exit_code"] = record.exit.exit_code
    return run


def offline_runs(run_folder: Path) -> list[Path]:
    return sorted((run_folder / "wandb").glob("offline-run-*"))


def png(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path))


def test_every_term_the_config_and_the_grids_read_back(train_tracked, scalars_of, grids_match):
    run = train_tracked(["wandb"])
    (folder,) = offline_runs(run.path)
    logged = read_offline_run(folder)
    assert logged["exit_code"] == 0
    assert json.loads((run.path / "wandb" / "gaespec-run.json").read_text())["id"] == logged["id"]

    expected = scalars_of(run)
    assert {"train/tc", "validation/critic_ce", "lr/critic", "lr/autoencoder"} <= set(expected)
    steps = [h["_step"] for h in logged["history"]]
    assert steps == [1, 2]
    for name, by_epoch in expected.items():
        assert [h[name] for h in logged["history"]] == list(by_epoch.values())
        assert logged["summary"][name] == by_epoch[2]

    config = json.loads((run.path / TRAINING).read_text())
    spec = tomllib.loads((run.path / SPEC).read_text())
    assert logged["config"]["training"] == config
    assert logged["config"]["spec"] == spec
    assert (folder / "files" / "spec.toml").read_text() == (run.path / SPEC).read_text()

    last = logged["history"][-1]
    assert last[("images/samples", "_type")] == "image-file"
    grids_match(
        run,
        png(folder / "files" / last[("images/samples", "path")]),
        png(folder / "files" / last[("images/reconstructions", "path")]),
    )


def test_a_stopped_run_resumes_under_the_same_id(train_tracked, scalars_of, stop_in_epoch_3):
    stop_in_epoch_3(["wandb"])
    run = train_tracked(["wandb"], epochs=3, resume=True)
    stopped, resumed = (read_offline_run(f) for f in offline_runs(run.path))
    assert stopped["id"] == resumed["id"]
    assert stopped["exit_code"] != 0 and resumed["exit_code"] == 0
    assert [h["_step"] for h in stopped["history"]] == [1, 2]
    assert [h["_step"] for h in resumed["history"]] == [3]
    expected = scalars_of(run)["validation/autoencoder"]
    got = [h["validation/autoencoder"] for h in stopped["history"] + resumed["history"]]
    assert got == list(expected.values())


@pytest.mark.parametrize("host", ["api.wandb.ai", "default"])
def test_offline_unless_logged_in(host, tmp_path, monkeypatch):
    import wandb

    assert wandb_mode() == "offline"
    host = urlparse(wandb.Settings().base_url).hostname if host == "default" else host
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine {host}\n  login user\n  password " + "0" * 40 + "\n")
    monkeypatch.setenv("NETRC", str(netrc))
    assert wandb_mode() == "online"
    monkeypatch.setenv("WANDB_BASE_URL", "https://wandb.example.org")  # another server's login
    assert wandb_mode() == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "0" * 40)
    assert wandb_mode() == "online"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert wandb_mode() == "disabled"
    assert wandb_mode("offline") == "offline"
