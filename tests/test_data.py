import dataclasses
import gzip
import hashlib
import http.server
import logging
import os
import re
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vaelab.data import DATASETS, fetch, find, load_dataset, read_idx, search_roots, write_idx
from vaelab.data import sources as data_module
from vaelab.errors import VaelabError

# ---------------------------------------------------------------------------------------------
# The IDX reader.


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(0, 6), min_size=1, max_size=4), gz=st.booleans(),
       seed=st.integers(0, 2**16))
def test_idx_round_trip(tmp_path_factory, shape, gz, seed):
    array = np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)
    path = tmp_path_factory.mktemp("idx") / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, array)
    out = read_idx(path, ndim=len(shape))
    assert out.dtype == torch.uint8
    assert out.shape == tuple(shape)
    assert np.array_equal(out.numpy(), array)


def _raw_file(tmp_path: Path, payload: bytes, name: str = "bad-idx1-ubyte") -> Path:
    path = tmp_path / name
    path.write_bytes(payload)
    return path


GOOD_HEADER = bytes([0, 0, 0x08, 1]) + (3).to_bytes(4, "big")


@pytest.mark.parametrize(("payload", "message"), [
    (b"\x12\x34\x08\x01" + b"\x00" * 8, "bad magic number"),
    (b"", "bad magic number"),
    (bytes([0, 0, 0x0D, 1]) + (3).to_bytes(4, "big") + b"abc", "type 0x0d is not supported"),
    (bytes([0, 0, 0x08, 3]) + b"\x00\x00", "truncated IDX header"),
    (GOOD_HEADER + b"ab", "promises 3 bytes"),
    (GOOD_HEADER + b"abcd", "promises 3 bytes"),
])
def test_bad_idx_files_get_one_line_naming_the_file(tmp_path, payload, message):
    path = _raw_file(tmp_path, payload)
    with pytest.raises(VaelabError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_wrong_number_of_dimensions_is_named(tmp_path):
    write_idx(tmp_path / "x-idx3-ubyte", np.zeros((2, 3), np.uint8))
    with pytest.raises(VaelabError, match="has 2 dimensions, expected 3"):
        read_idx(tmp_path / "x-idx3-ubyte", ndim=3)


def test_damaged_gzip_and_missing_file(tmp_path):
    good = tmp_path / "a.gz"
    write_idx(good, np.zeros((4, 2, 2), np.uint8))
    cut = tmp_path / "cut.gz"
    cut.write_bytes(good.read_bytes()[:-12])
    with pytest.raises(VaelabError, match=r"cut\.gz: cannot be read"):
        read_idx(cut)
    with pytest.raises(VaelabError, match="no such file"):
        read_idx(tmp_path / "absent.gz")


# ---------------------------------------------------------------------------------------------
# Datasets on disk.


def write_dataset(folder: Path, n_train: int = 6, n_test: int = 4, labels_max: int = 9,
                  n_train_labels: int | None = None, gz: bool = True) -> None:
    """Four small IDX files with MNIST's names."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    for prefix, n, n_labels in (("train", n_train, n_train_labels or n_train),
                                ("t10k", n_test, n_test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}",
                  rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        labels = rng.integers(0, labels_max + 1, n_labels, dtype=np.uint8)
        if n_labels:
            labels[0] = labels_max
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels)


def test_loads_a_dataset_folder_gzipped_or_raw(tmp_path):
    write_dataset(tmp_path / "gz" / "mnist")
    write_dataset(tmp_path / "raw" / "mnist", gz=False)
    for root in ("gz", "raw"):
        data = load_dataset("mnist", tmp_path / root, download=False)
        assert data.train_images.shape == (6, 1, 28, 28)
        assert data.test_images.shape == (4, 1, 28, 28)
        assert data.train_labels.dtype == torch.int64
        assert data.classes == tuple("0123456789")


def test_counts_that_disagree_are_refused(tmp_path):
    write_dataset(tmp_path / "mnist", n_train_labels=5)
    with pytest.raises(VaelabError, match=r"6 images but train-labels-idx1-ubyte\.gz has 5 labels"):
        load_dataset("mnist", tmp_path, download=False)


def test_labels_out_of_range_are_refused(tmp_path):
    write_dataset(tmp_path / "mnist", labels_max=10)
    with pytest.raises(VaelabError, match="label 10 is out of range for 10 classes"):
        load_dataset("mnist", tmp_path, download=False)


def test_an_empty_split_is_refused(tmp_path):
    write_dataset(tmp_path / "mnist", n_test=0)
    with pytest.raises(VaelabError, match=r"t10k-images-idx3-ubyte\.gz: holds no images"):
        load_dataset("mnist", tmp_path, download=False)


def test_downloads_go_where_the_user_said(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setattr(data_module, "cache_root", lambda: cache)
    assert data_module.download_root() == cache
    monkeypatch.setenv("VAELAB_DATA", str(tmp_path / "env"))
    assert data_module.download_root() == tmp_path / "env"
    assert data_module.download_root(tmp_path / "given") == tmp_path / "given"
    monkeypatch.setattr("vaelab.data.sources.writable", lambda folder: False)  # read-only
    assert data_module.download_root() == cache


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(VaelabError, match="choose one of: mnist, fashion-mnist"):
        load_dataset("cifar10")


def test_search_order(tmp_path, monkeypatch):
    explicit, env, cache, system = (tmp_path / n for n in ("explicit", "env", "cache", "system"))
    monkeypatch.setenv("VAELAB_DATA", str(env))
    monkeypatch.setattr(data_module, "cache_root", lambda: cache)
    monkeypatch.setattr(data_module, "SYSTEM_ROOT", system)
    assert search_roots(explicit) == [explicit, env, cache, system]
    spec = DATASETS["mnist"]
    for root in (system, cache, env, explicit):  # each newly filled root wins over the last
        write_dataset(root / "mnist")
        assert find(spec, explicit) == root / "mnist"
    monkeypatch.delenv("VAELAB_DATA")
    assert search_roots() == [cache, system]
    monkeypatch.setenv("VAELAB_DATA", "")  # set but empty: no root, not the current folder
    assert search_roots() == [cache, system]
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # a ~ the shell left in quotes
    monkeypatch.setenv("VAELAB_DATA", "~/datasets")
    assert search_roots("~/mine") == [tmp_path / "home" / "mine", tmp_path / "home" / "datasets",
                                      cache, system]


def test_a_data_folder_named_but_not_used_is_a_warning(tmp_path, monkeypatch):
    from vaelab.data import registry

    said = []
    monkeypatch.setattr(registry.log, "warning", lambda text, *args: said.append(text % args))
    env = tmp_path / "env"
    write_dataset(env / "mnist")
    monkeypatch.setenv("VAELAB_DATA", str(env))
    for named, why in ((tmp_path / "datasetz", "no such folder"),
                       (tmp_path, "it holds no complete mnist/")):
        said.clear()
        load_dataset("mnist", named, progress=False)
        load_dataset("mnist", named, progress=False)  # said once
        assert said == [f"{named}: {why}; mnist was read from {env / 'mnist'}"]
    said.clear()
    load_dataset("mnist", env, progress=False)  # the one named: nothing to say
    assert said == []
    # A file is no data folder: refused, not trained on MNIST from elsewhere; own images in a
    # file are pointed to --dataset, other files not
    for name, more in (("mine.npz", " (images of one's own in a file are the dataset: "
                                    f"load_dataset({str(tmp_path / 'mine.npz')!r}))"),
                       ("train-images-idx3-ubyte.gz", "")):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(VaelabError) as error:
            load_dataset("mnist", tmp_path / name, progress=False)
        assert str(error.value) == (f"{tmp_path / name} is a file; data_dir names the folder "
                                    f"that holds mnist/{more}")


def test_incomplete_folder_is_not_taken(tmp_path, monkeypatch):
    monkeypatch.setattr(data_module, "SYSTEM_ROOT", tmp_path / "system")
    write_dataset(tmp_path / "mnist")
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    assert find(DATASETS["mnist"], tmp_path) is None


# ---------------------------------------------------------------------------------------------
# Downloads, against an HTTP server on 127.0.0.1.


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """Serves tmp_path/www/<mirror>/ on 127.0.0.1; yields the base URL."""
    www = tmp_path / "www"
    www.mkdir()
    handler = lambda *a, **k: _Quiet(*a, directory=str(www), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", www
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def no_proxy(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _served_spec(base: str, www: Path, mirrors: list[str], corrupt: str | None = None):
    """A copy of the MNIST entry whose files (small, made here) are served from ``mirrors``."""
    source = www / "source"
    write_dataset(source)
    md5 = {path.name: _md5(path) for path in source.iterdir()}
    for mirror in mirrors:
        shutil.copytree(source, www / mirror)
        if mirror == corrupt:
            victim = www / mirror / "train-images-idx3-ubyte.gz"
            victim.write_bytes(gzip.compress(b"not the real file"))
    return dataclasses.replace(DATASETS["mnist"], md5=md5,
                               mirrors=tuple(f"{base}/{m}/" for m in ["dead", *mirrors]))


def test_download_then_load(server, tmp_path, no_proxy, monkeypatch):
    base, www = server
    spec = _served_spec(base, www, ["good"])
    monkeypatch.setitem(DATASETS, "mnist", spec)
    monkeypatch.setattr(data_module, "SYSTEM_ROOT", tmp_path / "nothing")
    data = load_dataset("mnist", tmp_path / "data", progress=False)
    assert data.train_images.shape == (6, 1, 28, 28)
    folder = tmp_path / "data" / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(spec.file_names)
    for name in spec.file_names:
        assert _md5(folder / name) == spec.md5[name]


def test_dead_first_mirror_falls_to_the_next(server, tmp_path, no_proxy, caplog):
    base, www = server
    spec = _served_spec(base, www, ["good"])
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        folder = fetch(spec, tmp_path / "data", progress=False)
    assert all((folder / name).exists() for name in spec.file_names)
    assert f"{base}/dead/train-images-idx3-ubyte.gz failed (404" in caplog.text


def test_a_mirror_of_ones_own_is_tried_first(server, tmp_path, no_proxy, monkeypatch, caplog):
    """A network that reaches no public mirror had no way to name an internal one."""
    base, www = server
    spec = _served_spec(base, www, ["good"])
    shutil.copytree(www / "source", www / "internal" / "mnist")
    monkeypatch.setenv("VAELAB_MIRROR", f"{base}/internal/")
    with caplog.at_level(logging.INFO, logger="vaelab"):
        folder = fetch(dataclasses.replace(spec, mirrors=("http://127.0.0.1:9/",)),
                       tmp_path / "data", progress=False)
    assert all(_md5(folder / name) == spec.md5[name] for name in spec.file_names)
    assert caplog.messages == [f"downloaded {base}/internal/mnist/{name}"
                               for name in spec.file_names]  # the published one not asked


def test_checksum_mismatch_is_rejected_and_leaves_nothing(server, tmp_path, no_proxy):
    base, www = server
    spec = _served_spec(base, www, ["bad"], corrupt="bad")
    with pytest.raises(VaelabError, match=r"no mirror served train-images-idx3-ubyte\.gz") as info:
        fetch(spec, tmp_path / "data", progress=False)
    assert "checksum mismatch, file rejected" in str(info.value)
    leftovers = list((tmp_path / "data").rglob("*"))
    assert leftovers == [], leftovers


def test_corrupt_mirror_then_good_mirror(server, tmp_path, no_proxy):
    base, www = server
    spec = _served_spec(base, www, ["bad", "good"], corrupt="bad")
    folder = fetch(spec, tmp_path / "data", progress=False)
    name = "train-images-idx3-ubyte.gz"
    assert _md5(folder / name) == spec.md5[name]
    assert not [p for p in folder.iterdir() if p.name not in spec.file_names]


class _Faulty(http.server.SimpleHTTPRequestHandler):
    """Serves half of a file, then keeps silent (/stall/) or closes the connection (/cut/)."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = (Path(self.directory) / "source" / self.path.rsplit("/", 1)[1]).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:len(body) // 2])
        self.wfile.flush()
        if self.path.startswith("/stall/"):
            time.sleep(3)
        self.close_connection = True


def test_a_silent_mirror_is_tried_once_and_a_stalled_or_cut_file_named_so(
        server, tmp_path, no_proxy, monkeypatch, caplog):
    """A mirror that accepted and never answered cost 30 s for each of the four files, one
    that stopped sending was called unreachable ('no network?'), and a connection closed
    partway was urllib3's text twice."""
    import socket

    base, www = server
    spec = _served_spec(base, www, ["good"])
    monkeypatch.setattr(data_module, "TIMEOUT", 0.5)
    silent = socket.socket()  # connects, and is never answered
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    hush = f"http://127.0.0.1:{silent.getsockname()[1]}/"
    try:
        started = time.perf_counter()
        with caplog.at_level(logging.WARNING, logger="vaelab"):
            fetch(dataclasses.replace(spec, mirrors=(hush, f"{base}/good/")),
                  tmp_path / "data", progress=False)
        assert time.perf_counter() - started < 4 * 0.5  # waited for once, not four times
        assert caplog.messages == [f"{hush}train-images-idx3-ubyte.gz failed (timed out); "
                                   f"{base}/good/train-images-idx3-ubyte.gz served it instead"]
        with pytest.raises(VaelabError) as info:  # nothing but it: each file says so
            fetch(dataclasses.replace(spec, mirrors=(hush,)), tmp_path / "other",
                  progress=False)
        assert str(info.value) == (f"no mirror served train-images-idx3-ubyte.gz "
                                   f"({hush}train-images-idx3-ubyte.gz: timed out)")
        (www / "good" / "train-labels-idx1-ubyte.gz").unlink()  # the second file: none has it
        with pytest.raises(VaelabError) as info:
            fetch(dataclasses.replace(spec, mirrors=(hush, f"{base}/good/")),
                  tmp_path / "third", progress=False)
        assert str(info.value) == (  # in the mirrors' order, the one given up said so
            f"no mirror served train-labels-idx1-ubyte.gz ({hush}train-labels-idx1-ubyte.gz: "
            f"timed out for an earlier file, not tried again; {base}/good/"
            f"train-labels-idx1-ubyte.gz: 404 Client Error: File not found)")
    finally:
        silent.close()
    # A mirror that closes one request, or fails one TLS handshake, is asked for the next file
    import requests

    aborted = requests.ConnectionError("('Connection aborted.', RemoteDisconnected('Remote "
                                       "end closed connection without response'))")
    refused = requests.ConnectionError("HTTPConnectionPool(host='x', port=9): Max retries "
                                       "exceeded (Caused by NewConnectionError('Failed to "
                                       "establish a new connection: [Errno 111] Connection "
                                       "refused'))")
    assert [data_module._lasting(err) for err in (aborted, requests.exceptions.SSLError("x"),
                                                  refused)] == [False, False, True]
    assert data_module._short_reason(aborted) == "it closed the connection"
    faulty = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a, **k: _Faulty(*a, directory=str(www), **k))
    threading.Thread(target=faulty.serve_forever, daemon=True).start()
    here = f"http://127.0.0.1:{faulty.server_address[1]}"
    try:
        size = (www / "source" / "train-images-idx3-ubyte.gz").stat().st_size
        for path, why in (("stall", "timed out"), ("cut", f"the connection closed after "
                                                           f"{size // 2 / 2**20:.1f} of "
                                                           f"{size / 2**20:.1f} MB")):
            with pytest.raises(VaelabError) as info:
                fetch(dataclasses.replace(spec, mirrors=(f"{here}/{path}/",)),
                      tmp_path / path, progress=False)
            assert str(info.value) == (f"no mirror served train-images-idx3-ubyte.gz "
                                       f"({here}/{path}/train-images-idx3-ubyte.gz: {why})")
            assert not list((tmp_path / path).rglob("*"))  # no part of a file kept
    finally:
        faulty.shutdown()
        faulty.server_close()


def test_a_download_is_readable_as_the_users_files_and_a_folder_it_cannot_write_is_named(
        server, tmp_path, no_proxy, monkeypatch):
    """pooch renamed its private temporary file into place (-rw-------), and a read-only
    cache was pooch's text, cut short, blamed on each mirror in turn."""
    base, www = server
    spec = _served_spec(base, www, ["good"])
    before = os.umask(0o022)
    try:
        folder = fetch(spec, tmp_path / "data", progress=False)
    finally:
        os.umask(before)
    assert {(folder / name).stat().st_mode & 0o777 for name in spec.file_names} == {0o644}
    monkeypatch.setattr(data_module, "_writable", lambda folder: False)
    with pytest.raises(VaelabError) as info:
        fetch(spec, tmp_path / "locked", progress=False)
    assert str(info.value) == (
        f"{tmp_path / 'locked' / 'mnist'}: cannot be written (permission denied), so mnist "
        f"cannot be downloaded there; give data_dir or VAELAB_DATA a folder that can, or put "
        f"its files ({', '.join(spec.file_names)}) in one")


def test_a_damaged_file_of_vaelabs_own_download_is_fetched_again(server, tmp_path, no_proxy,
                                                                   monkeypatch, caplog):
    """A cut or changed file in the user cache was 'cannot be read; delete it and fetch it
    again', to do by hand, though vaelab knows its MD5 and its mirrors. A damaged file in a
    folder of the user's own is said, and left as it is."""
    base, www = server
    spec = _served_spec(base, www, ["good"])
    monkeypatch.setitem(DATASETS, "mnist", spec)
    monkeypatch.setattr(data_module, "SYSTEM_ROOT", tmp_path / "nothing")
    monkeypatch.delenv("VAELAB_DATA", raising=False)
    monkeypatch.setattr(data_module, "cache_root", lambda: tmp_path / "cache")  # its own
    first = load_dataset("mnist", progress=False)  # downloaded into the cache
    cached = data_module.cache_root() / "mnist" / "t10k-images-idx3-ubyte.gz"
    good = cached.read_bytes()
    for n, damage in enumerate((good[:len(good) // 2], b""), start=1):  # cut; emptied
        cached.write_bytes(damage)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="vaelab"):
            assert torch.equal(load_dataset("mnist", progress=False).test_images,
                               first.test_images)
        kept = cached.name + ".damaged" + ("-2" if n == 2 else "")  # the first one stays
        assert caplog.messages[0] == (f"{cached}: not the file its MD5 names (damaged?); kept "
                                      f"as {kept}, and fetched again")
        assert all("/dead/t10k-images" in said for said in caplog.messages[1:])  # its mirrors
        assert cached.read_bytes() == good
        assert cached.with_name(kept).read_bytes() == damage  # not lost
    own = shutil.copytree(data_module.cache_root() / "mnist", tmp_path / "mine" / "mnist")
    (own / "t10k-images-idx3-ubyte.gz").write_bytes(good[:100])
    with pytest.raises(VaelabError, match=r"t10k-images-idx3-ubyte\.gz: cannot be read"):
        load_dataset("mnist", tmp_path / "mine", progress=False)
    assert (own / "t10k-images-idx3-ubyte.gz").read_bytes() == good[:100]  # the user's own


def test_a_data_folder_holding_the_files_itself_or_not_there_is_said(server, tmp_path,
                                                                      no_proxy, monkeypatch,
                                                                      caplog):
    """--data-dir naming the folder of MNIST's four files itself was 'not found' offline, and
    online a second copy downloaded beside them; a mistyped VAELAB_DATA was made and filled
    without a word, and one naming a file was used as a folder."""
    base, www = server
    spec = _served_spec(base, www, ["good"])
    monkeypatch.setitem(DATASETS, "mnist", spec)
    monkeypatch.setattr(data_module, "SYSTEM_ROOT", tmp_path / "nothing")
    flat = tmp_path / "flat"
    shutil.copytree(www / "source", flat)
    with pytest.raises(VaelabError) as info:
        load_dataset("mnist", flat, progress=False)
    assert str(info.value) == (f"{flat} holds the files of mnist itself, and vaelab reads them "
                               f"from a folder mnist/ in it: move them into {flat / 'mnist'}, "
                               f"or name the folder above mnist/ with data_dir")
    assert sorted(p.name for p in flat.iterdir()) == sorted(spec.file_names)  # no copy made
    asked_otherwise = dataclasses.replace(spec, name="fashion-mnist", md5=dict.fromkeys(
        spec.md5, "0" * 32))  # files of the same names, whose archives are not these
    monkeypatch.setitem(DATASETS, "fashion-mnist", asked_otherwise)
    with pytest.raises(VaelabError, match=r"^fashion-mnist not found \(looked in "):
        load_dataset("fashion-mnist", flat, progress=False, download=False)
    typo = tmp_path / "datsets"
    monkeypatch.setenv("VAELAB_DATA", str(typo / "deeper"))
    offline = dataclasses.replace(spec, mirrors=("http://127.0.0.1:9/",))
    monkeypatch.setitem(DATASETS, "mnist", offline)
    with caplog.at_level(logging.WARNING, logger="vaelab"), pytest.raises(VaelabError):
        load_dataset("mnist", progress=False)
    assert not caplog.messages and not typo.exists()  # not said, nor left made, for nothing
    (www / "good" / "t10k-labels-idx1-ubyte.gz").unlink()  # three files come, the last not
    monkeypatch.setitem(DATASETS, "mnist", spec)
    with caplog.at_level(logging.WARNING, logger="vaelab"), pytest.raises(VaelabError):
        load_dataset("mnist", progress=False)
    assert caplog.messages[-1] == f"{typo / 'deeper'}: no such folder; made for mnist's " \
                                  f"files, as VAELAB_DATA names it"  # it holds them now
    shutil.copy(www / "source" / "t10k-labels-idx1-ubyte.gz", www / "good")
    shutil.rmtree(typo)
    caplog.clear()
    monkeypatch.setitem(DATASETS, "mnist", spec)
    monkeypatch.setenv("VAELAB_DATA", str(typo))
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        load_dataset("mnist", progress=False)
    assert caplog.messages[-1] == f"{typo}: no such folder; made for mnist's files, as " \
                                  f"VAELAB_DATA names it"
    assert (typo / "mnist").is_dir()
    readme = tmp_path / "README.md"
    readme.write_text("not a folder")
    monkeypatch.setenv("VAELAB_DATA", str(readme))
    assert data_module.download_root() == data_module.cache_root()


def test_offline_error_says_where_to_put_the_files(tmp_path, monkeypatch, no_proxy):
    spec = dataclasses.replace(DATASETS["mnist"], mirrors=("http://127.0.0.1:9/",))
    monkeypatch.setitem(DATASETS, "mnist", spec)
    monkeypatch.setattr(data_module, "SYSTEM_ROOT", tmp_path / "nothing")
    monkeypatch.delenv("VAELAB_DATA", raising=False)
    with pytest.raises(VaelabError) as info:
        load_dataset("mnist", progress=False)
    message = str(info.value)
    assert "\n" not in message
    assert "mnist not found" in message
    assert "train-images-idx3-ubyte.gz" in message
    assert "VAELAB_DATA" in message
    with pytest.raises(VaelabError, match="downloads are off"):
        load_dataset("mnist", download=False)
    monkeypatch.setenv("HTTP_PROXY", "http://alice:s3cret@127.0.0.1:9")  # not there
    monkeypatch.delenv("NO_PROXY")
    with pytest.raises(VaelabError, match=r"could not reach its mirror \(through the proxy "
                                          r"http://127\.0\.0\.1:9\?\)$"):  # no password
        fetch(dataclasses.replace(spec, mirrors=("http://mirror.invalid/",)), tmp_path / "p",
              progress=False)
    monkeypatch.setenv("NO_PROXY", "mirror.invalid")  # not through it: not named
    with pytest.raises(VaelabError, match=r"could not reach its mirror \(no network\?\)$"):
        fetch(dataclasses.replace(spec, mirrors=("http://mirror.invalid/",)), tmp_path / "p",
              progress=False)


def test_a_killed_downloads_temporary_file_is_removed_and_a_fresh_one_kept(server, tmp_path,
                                                                            no_proxy,
                                                                            monkeypatch):
    """kill -9 in a download left pooch's tmpXXXXXXXX file in the cache for good. Only its
    names, an hour old, in vaelab's own cache: a folder of the user's is left as it is."""
    base, www = server
    spec = _served_spec(base, www, ["good"])
    monkeypatch.setattr(data_module, "cache_root", lambda: tmp_path / "cache")
    long_ago = time.time() - 2 * data_module.LEFT_FOR
    for root in (tmp_path / "cache", tmp_path / "mine"):
        folder = root / "mnist"
        folder.mkdir(parents=True)
        old, fresh = folder / "tmpk1ll3d00", folder / "tmpbusy0000"
        theirs = [folder / "tmp_notes.txt", folder / "tmp.csv", folder / "tmpab12cd34.bak"]
        for path in [old, fresh, *theirs]:
            path.write_bytes(b"half a file, or the user's own")
        for path in [old, *theirs]:
            os.utime(path, (long_ago, long_ago))
        fetch(spec, root, progress=False)
        assert old.exists() == (root.name == "mine") and fresh.exists()
        assert all(path.exists() for path in theirs)  # not named as pooch names its own


# ---------------------------------------------------------------------------------------------
# The real files.


def test_real_mnist(mnist):
    assert mnist.train_images.shape == (60000, 1, 28, 28)
    assert mnist.test_images.shape == (10000, 1, 28, 28)
    assert mnist.train_images.dtype == torch.uint8
    assert torch.bincount(mnist.test_labels).tolist() == [
        980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert int(mnist.train_images.max()) == 255


def test_real_mnist_checksums(data_root):
    spec = DATASETS["mnist"]
    for name in spec.file_names:
        assert _md5(data_root / "mnist" / name) == spec.md5[name]


def test_fashion_mnist_from_debian():
    folder = data_module.SYSTEM_ROOT / "fashion-mnist"
    if not folder.exists():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    data = load_dataset("fashion-mnist", download=False)
    assert data.train_images.shape == (60000, 1, 28, 28)
    assert data.classes[9] == "Ankle boot"


def test_a_dataset_shows_its_sizes_not_its_pixels(tiny):
    import dataclasses

    shown = repr(tiny)
    assert shown == (f"ImageData('mnist': {len(tiny.train_images):,} training and "
                     f"{len(tiny.test_images):,} test images of 1x28x28, 10 classes (0, 1, 2, "
                     f"3, 4, 5, 6, 7, 8, 9), on cpu)"), shown
    bare = dataclasses.replace(tiny, name="shapes.npz", classes=(), origin="/data/shapes.npz")
    assert "no labels, on cpu, read from /data/shapes.npz)" in repr(bare)


def test_image_data_of_ones_own_tensors_is_checked_and_made_uint8_leaving_them_as_they_were():
    """Float images were divided by 255 again at every use, and in the caller's own tensor."""
    from PIL import Image

    from vaelab.data import ImageData, to_unit

    g = torch.Generator().manual_seed(0)
    floats = torch.rand(6, 1, 4, 4, generator=g)
    kept = floats.clone()
    labels = np.array([0, 1, 2, 0, 1, 2])
    data = ImageData("mine", ("a", "b", "c"), floats, labels, floats[:3], torch.arange(3))
    assert data.train_images.dtype == torch.uint8 and data.train_labels.dtype == torch.int64
    torch.testing.assert_close(to_unit(data.train_images), floats, atol=0.5 / 255, rtol=0)
    assert torch.equal(floats, kept)  # the caller's tensor, untouched
    assert torch.equal(to_unit(floats), kept) and torch.equal(floats, kept)  # not scaled
    uint8 = torch.randint(0, 256, (6, 1, 4, 4), dtype=torch.uint8, generator=g)
    assert ImageData("mine", (), uint8, torch.zeros(6, dtype=torch.long), uint8,
                     torch.zeros(6, dtype=torch.long)).train_images \
        is uint8  # not copied
    for images, train_labels, said in (
            (floats * 255, labels, "train_images are floats from 0.315185 to 254.252; give "
                                   "floats in [0, 1]"),
            (floats.squeeze(1), labels, "train_images has shape (6, 4, 4); give (N, C, H, W) "
                                        "with C = 1 (grey) or 3 (colour); for grey images "
                                        "given as (N, H, W), pass x[:, None]"),
            (floats.expand(6, 4, 4, 4), labels,  # RGBA, channels last
             "train_images has shape (6, 4, 4, 4); give (N, C, H, W) with C = 1 (grey) or 3 "
             "(colour); these look like channels last with an alpha channel, as stacked Pillow "
             "images are: pass x[..., :3].transpose(0, 3, 1, 2) for an array x, "
             "x[..., :3].permute(0, 3, 1, 2) for a tensor"),
            ([Image.new("L", (4, 4))] * 6, labels, "train_images cannot be read as pixels (a "
                                                   "list); give a tensor or a NumPy array"),
            (floats.expand(6, 3, 4, 4).permute(0, 2, 3, 1), labels,  # as Pillow's stack
             "train_images has shape (6, 4, 4, 3); give (N, C, H, W) with C = 1 (grey) or 3 "
             "(colour); these look like channels last, as stacked Pillow images are: pass "
             "x.transpose(0, 3, 1, 2) for an array x, x.permute(0, 3, 1, 2) for a tensor"),
            (floats.to(torch.int32), labels, "train_images are int32; give uint8 pixels"),
            (floats, labels[:5], "6 images but 5 train_labels; give one label per image"),
            (floats, labels / 2, "train_labels must be one whole number per image, got "
                                 "float64 of shape (6,)"),
            (floats, labels + 5, "train_labels go from 5 to 7, but there are 3 classes; number "
                                 "them from 0 to 2"),
            (floats.clamp(max=1).index_fill(0, torch.tensor([1]), 1.0000001), labels,
             "train_images are floats from 0.00123602 to 1.0000001; give"),  # not '0 to 1'
            (floats[:0], labels[:0], "train_images holds no image; give each split one or more")):
        with pytest.raises(VaelabError, match=re.escape(f"ImageData: {said}")):
            ImageData("mine", ("a", "b", "c"), images, train_labels, floats, labels)
    with pytest.raises(VaelabError, match=r"^ImageData: its name is None; give the images a "
                                          r"name \(a str, such as 'faces'\)"):
        ImageData(None, (), uint8, None, uint8, None)  # a TypeError in train, from pathlib
    with pytest.raises(VaelabError, match=r"the training images are 1x4x4 and the test images "
                                          r"3x4x4"):
        ImageData("mine", (), uint8, labels, uint8.expand(6, 3, 4, 4), labels)
    # Unlabelled images may come with None for labels (it ended in 'Could not infer dtype of
    # NoneType'); labelled ones may not
    unlabelled = ImageData("mine", (), uint8, None, uint8[:2], None)
    assert unlabelled.train_labels.tolist() == [0] * 6 and unlabelled.test_labels.tolist() == [0, 0]
    with pytest.raises(VaelabError, match=r"^ImageData: train_labels is None, and the data has "
                                          r"classes; give one class number per image, or "
                                          r"classes=\(\) for unlabelled images$"):
        ImageData("mine", ("a", "b"), uint8, None, uint8, labels)
    # Names given as a list (or any iterable) are kept as a tuple, as a run records them: a
    # list once made every later call refuse the run's own classes, "a, b, c" against "a, b, c"
    assert ImageData("mine", ["a", "b", "c"], floats, labels, floats[:3],
                     torch.arange(3)).classes == ("a", "b", "c")
    assert ImageData("mine", iter(["a", "b", "c"]), floats, labels, floats[:3],
                     torch.arange(3)).classes == ("a", "b", "c")
    named = ImageData("mine", np.array(["a", "b", "c"]), floats, labels, floats[:3],
                      torch.arange(3)).classes
    assert named == ("a", "b", "c") and all(type(name) is str for name in named)  # not np.str_
    for wrong in (3, "abc", (0, 1, 2), {"a", "b", "c"}, {"a": 0, "b": 1, "c": 2}):
        with pytest.raises(VaelabError, match=r"^ImageData: classes are the classes' names in "
                                              r"order, a tuple of str \(\(\) for images "
                                              rf"without labels\), not {re.escape(repr(wrong))}$"):
            ImageData("mine", wrong, floats, labels, floats[:3], torch.arange(3))
    with pytest.raises(VaelabError, match=r", not \(0, 1, 2, .{40,}…$"):  # a long one, cut
        ImageData("mine", tuple(range(99)), floats, labels, floats[:3], torch.arange(3))
