"""The user's own images: folders of PNG/JPEG (grey or colour, with or without class folders,
split or not) and NumPy arrays, read, cached, split, and refused with one line when bad."""

import contextlib
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import run_cli
from vaelab.data import decoding, load_dataset
from vaelab.data import folders as folders_module
from vaelab.errors import VaelabError


def _pattern(i: int, c: int, size=(12, 12)) -> np.ndarray:
    """A grey image of class c: a bright square at a place of the class's own, with noise."""
    rng = np.random.default_rng(i)
    image = rng.integers(0, 40, size, dtype=np.uint8)
    row, col = 1 + 3 * (c % 3), 1 + 4 * (c // 3)
    image[row:row + 3, col:col + 3] = 230
    return image


def make_folder(root, classes=("circle", "square"), per_class=10, colour=False, size=(12, 12),
                suffix=".png"):
    """root/<class>/<i>.png, or root/<i>.png when classes is empty."""
    for c, name in enumerate(classes or [None]):
        folder = root / name if name else root
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            grey = _pattern(i + 100 * c, c, size)
            array = np.stack([grey, grey // 2, 255 - grey], axis=2) if colour else grey
            Image.fromarray(array).save(folder / f"{i:03d}{suffix}")
    return root


def test_a_labelled_folder_gives_classes_from_its_sub_folders(tmp_path):
    root = make_folder(tmp_path / "shapes", classes=("square", "circle"), per_class=10)
    data = load_dataset(str(root), progress=False, test_fraction=0.2)
    assert data.classes == ("circle", "square")  # sorted, as the folders are
    assert data.image_shape == (1, 12, 12)
    assert (len(data.train_images), len(data.test_images)) == (16, 4)
    assert sorted(data.test_labels.tolist()) == [0, 0, 1, 1]  # two of each class held out
    images = np.concatenate([data.train_images.numpy(), data.test_images.numpy()])[:, 0]
    labels = np.concatenate([data.train_labels.numpy(), data.test_labels.numpy()])
    squares = {_pattern(i, 0).tobytes() for i in range(10)}  # made first, as class 0 of make
    assert {image.tobytes() for image in images[labels == 1]} == squares


def test_the_split_is_seeded_and_the_fingerprint_follows_it(tmp_path):
    root = make_folder(tmp_path / "shapes")
    a = load_dataset(str(root), progress=False, split_seed=1)
    b = load_dataset(str(root), progress=False, split_seed=1)
    c = load_dataset(str(root), progress=False, split_seed=2)
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    assert np.array_equal(a.test_images.numpy(), b.test_images.numpy())


def _tested(data) -> set[bytes]:
    return {image.tobytes() for image in data.test_images.numpy()}


def test_an_image_added_to_a_folder_moves_at_most_one_other_between_the_splits(tmp_path):
    """The test images were drawn at random over the folder's order, so that one image added
    to a class changed most of the test images of every class after it: a run trained
    before and one after it were measured on different images."""
    root = make_folder(tmp_path / "shapes", classes=("a", "b", "c"), per_class=34)
    before = load_dataset(str(root), progress=False)
    assert sorted(before.test_labels.tolist()) == [0] * 3 + [1] * 3 + [2] * 3  # 10% of each
    # a class of 35 holds 4 out, of 36 and 37 4 too: one more, or one for another
    for added, (name, tested) in enumerate((("a/new.png", 10), ("a/new2.png", 10),
                                            ("b/039b.png", 11), ("a/000a.png", 11))):
        Image.fromarray(_pattern(1000 + added, "abc".index(name[0]))).save(root / name)
        after = load_dataset(str(root), progress=False)
        new = _pattern(1000 + added, "abc".index(name[0])).tobytes()
        moved = _tested(before) ^ _tested(after) - {new}  # images that changed sides
        assert len(moved) <= 1, (name, len(moved))
        assert len(after.test_images) == tested
        before = after
    by_order = load_dataset(str(root), progress=False, split_by_order=True)  # older runs'
    assert len(_tested(by_order) ^ _tested(after)) > 2  # drawn otherwise
    # A colour image added makes them all colour (grey in three channels): none moves
    Image.fromarray(np.stack([_pattern(2000, 2)] * 2 + [_pattern(2001, 2)], axis=2)).save(
        root / "c" / "colour.png")
    coloured = load_dataset(str(root), progress=False)
    assert coloured.image_shape[0] == 3
    firsts = {image[:1].tobytes() for image in coloured.test_images.numpy()}  # grey's own
    assert len(firsts ^ _tested(after) - {_pattern(2000, 2).tobytes()}) <= 1
    (root / "c" / "colour.png").unlink()
    renamed = tmp_path / "renamed"  # the same images under other names, in another order
    for i, path in enumerate(sorted(root.rglob("*.png"), reverse=True)):
        (renamed / path.parent.name).mkdir(parents=True, exist_ok=True)
        path.rename(renamed / path.parent.name / f"{i:04d}.png")
    again = load_dataset(str(renamed), progress=False)
    assert sorted(_tested(again)) == sorted(_tested(after))
    assert not np.array_equal(again.test_images.numpy(), after.test_images.numpy())  # order


def test_colour_unlabelled_and_jpeg(tmp_path):
    root = make_folder(tmp_path / "photos", classes=(), per_class=12, colour=True,
                       size=(10, 8), suffix=".jpg")
    data = load_dataset(str(root), progress=False)
    assert data.image_shape == (3, 10, 8)  # (C, H, W) for 8 wide, 10 high
    assert data.classes == () and not data.labelled
    assert len(data.train_images) + len(data.test_images) == 12


def test_grey_among_colour_is_made_colour_with_a_note(tmp_path, caplog):
    root = make_folder(tmp_path / "mixed", classes=(), per_class=6, colour=True)
    Image.fromarray(_pattern(7, 0)).save(root / "grey.png")
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        data = load_dataset(str(root), progress=False)
    assert data.image_shape == (3, 12, 12)
    assert (f"{root}: 1 grey image was made colour (grey in all three channels) to match "
            f"colour images such as 000.png") in caplog.text  # the one that makes them colour


def test_what_reading_a_folder_noticed_is_recorded_with_each_run_and_shown_on_its_page(
        tmp_path, capsys):
    """A folder's notes (a file left out, grey images made colour) were said once, when it was
    first read, and then never again: a second run on it, loaded from the cache, kept no word
    of them, nor did any run's folder or page."""
    root = make_folder(tmp_path / "shapes", per_class=8, colour=True)
    Image.fromarray(_pattern(50, 0, (12, 12))).save(root / "circle" / "grey.png")
    (root / "circle" / "notes.txt").write_text("not an image")
    left_out = f"left out 1 file that is not an image, such as {Path('circle', 'notes.txt')}"
    grey = "1 grey image was made colour (grey in all three channels) to match colour images"
    for run in ("first", "second"):  # the second loads the folder from the cache, quietly
        code, _, err = run_cli(["train", "--dataset", str(root), "-o", str(tmp_path / run),
                                *SMALL], capsys)
        assert code == 0, err
        assert (err.count(left_out), err.count(grey)) == ((1, 1) if run == "first" else (0, 0))
        notes = json.loads((tmp_path / run / "config.json").read_text())["data"]["notes"]
        assert len(notes) == 2, notes
        assert [note[:len(said)] for note, said in zip(notes, (left_out, grey), strict=True)] \
            == [left_out, grey], notes
        page = (tmp_path / run / "index.html").read_text()
        assert f"Reading its images noted:</p><ul class=\"noted\"><li>{left_out}</li><li>{grey}" \
            in page
    code, _, err = run_cli(["train", "--resume", str(tmp_path / "first"), "--epochs", "2", "-q"],
                           capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "first" / "config.json").read_text())["data"]["notes"] == notes
    (root / "README.md").write_text("about these images")  # another file: said, and recorded
    code, _, err = run_cli(["train", "--dataset", str(root), "-o", str(tmp_path / "third"),
                            *SMALL], capsys)
    assert code == 0 and "left out 2 files that are not images" in err, err
    assert json.loads((tmp_path / "third" / "config.json").read_text())["data"]["notes"][1:] \
        == notes[1:]
    copy = shutil.copytree(root, tmp_path / "copy")  # its times too: the first's cache
    copied = load_dataset(str(copy), progress=False)
    assert copied.notes[1:] == tuple(notes[1:]) and not any("shapes" in n for n in copied.notes)


@pytest.mark.parametrize("cores", [1, 2])
def test_mixed_sizes_need_image_size_and_the_odd_ones_out_are_named(cores, tmp_path,
                                                                     monkeypatch):
    root = make_folder(tmp_path / "sizes", per_class=4)
    Image.fromarray(np.zeros((20, 30), np.uint8)).save(root / "circle" / "000.png")  # the first
    Image.fromarray(np.zeros((20, 30), np.uint8)).save(root / "square" / "wide.png")
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(root / "square" / "small.png")
    monkeypatch.setattr(folders_module, "available_cores", lambda: cores)
    monkeypatch.setattr(folders_module, "PARALLEL_FROM", 0)
    monkeypatch.setattr(folders_module, "CHUNK", 3)  # sizes differ inside chunks and between
    with pytest.raises(VaelabError) as raised:
        load_dataset(str(root), progress=False)
    assert str(raised.value) == (
        f"{root}: the images are not all one size: 7 are 12x12 (such as circle/001.png), "
        "2 are 30x20 (such as "
        "circle/000.png), 1 is 9x9 (such as square/small.png); give --image-size N to bring "
        "every image to N x N")
    data = load_dataset(str(root), progress=False, image_size=16)
    assert data.image_shape == (1, 16, 16)
    # Files that cannot be read are named in the same message, not on the next try
    (root / "circle" / "broken.png").write_bytes(b"not an image")
    with pytest.raises(VaelabError) as raised:
        load_dataset(str(root), progress=False)
    assert str(raised.value).endswith(
        "every image to N x N; and 1 file cannot be read as images (such as circle/broken.png)"
        ": replace or remove it")


def test_a_fourth_size_is_named_and_more_are_counted(tmp_path):
    """Four sizes are all named (not three and '1 other size'); of more, the rarest are
    counted together, with their images."""
    from vaelab.data.decoding import different_sizes

    paths = []
    for side, count in ((5, 4), (6, 3), (7, 2), (8, 1), (9, 1), (10, 1)):
        for k in range(count):
            paths.append(str(tmp_path / f"{side}-{k}.png"))
            Image.fromarray(np.zeros((side, side), np.uint8)).save(paths[-1])
    named = "4 are 5x5 (such as 5-0.png), 3 are 6x6 (such as 6-0.png), 2 are 7x7 (such as 7-0.png)"
    assert f"{named}, 1 is 8x8 (such as 8-0.png); give" in different_sizes(paths[:10], tmp_path)
    assert f"{named}, and 3 other sizes (3 images); give" in different_sizes(paths, tmp_path)


def test_a_split_folder_keeps_its_split(tmp_path, caplog, monkeypatch):
    make_folder(tmp_path / "set" / "train", per_class=5)
    make_folder(tmp_path / "set" / "test", per_class=2)
    data = load_dataset(str(tmp_path / "set"), progress=False)
    assert (len(data.train_images), len(data.test_images)) == (10, 4)
    assert data.classes == ("circle", "square")
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.WARNING, logger="vaelab"):  # a fraction asked for is told,
        data = load_dataset(str(tmp_path / "set"), progress=False, test_fraction=0.5)
        load_dataset("set", progress=False, test_fraction=0.5)  # once, however it is named
    assert len(data.test_images) == 4
    assert caplog.messages == [f"{tmp_path / 'set'}: its train/ and test/ give the split, so "
                               f"the test fraction asked for (test_fraction=0.5) is not used"]


def test_a_registered_dataset_keeps_its_test_set_and_says_a_fraction_is_not_used(
        tiny, tmp_path, caplog):
    from conftest import mnist_folder
    from vaelab.data import registry

    root = mnist_folder(tiny, tmp_path / "data")
    registry._say_test_set_given.cache_clear()
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        data = load_dataset("mnist", root, progress=False, test_fraction=0.5)
        load_dataset("mnist", root, progress=False, test_fraction=0.5)  # said once
        load_dataset("mnist", root, progress=False)  # the default: nothing to say
    assert len(data.test_images) == len(tiny.test_images)
    assert caplog.messages == ["mnist has a test set of its own, so test_fraction=0.5 is "
                               "not used"]
    registry._say_test_set_given.cache_clear()


def test_a_split_folder_needs_every_class_in_train_and_says_which_its_test_lacks(tmp_path,
                                                                                caplog):
    make_folder(tmp_path / "set" / "train", per_class=5)
    make_folder(tmp_path / "set" / "test", classes=("circle",), per_class=2)
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        data = load_dataset(str(tmp_path / "set"), progress=False)
    assert data.classes == ("circle", "square")
    assert "test/ has no images of class square, so the measures on the test images leave " \
           "it out" in caplog.text
    assert data.test_labels.tolist() == [0, 0]
    # test/ without the first class: its squares are class 1 of both, not test/'s own class 0
    make_folder(tmp_path / "late" / "train", per_class=5)
    make_folder(tmp_path / "late" / "test", classes=("square",), per_class=2)
    data = load_dataset(str(tmp_path / "late"), progress=False)
    assert data.test_labels.tolist() == [1, 1] and data.train_labels.tolist() == [0] * 5 + [1] * 5
    make_folder(tmp_path / "other" / "train", classes=("circle",), per_class=5)
    make_folder(tmp_path / "other" / "test", per_class=2)
    with pytest.raises(VaelabError, match=r"other: train/ has no images of test/square, so no "
                                          r"model could learn it; add some to train/ or take "
                                          r"it out$"):
        load_dataset(str(tmp_path / "other"), progress=False)


@pytest.mark.parametrize(("make", "message"), [
    (lambda root: root.mkdir(), r"holds no images"),
    (lambda root: make_folder(root, classes=("a",), per_class=1) and None,
     r"class 'a' has 1 image; it needs at least two"),
    (lambda root: (make_folder(root, per_class=3),
                   Image.fromarray(np.zeros((12, 12), np.uint8)).save(root / "stray.png")),
     r"holds class folders \(circle, square\) and 1 image beside them, such as stray\.png"),
    (lambda root: (make_folder(root, per_class=3),
                   (root / "circle" / "001.png").write_bytes(
                       (root / "circle" / "001.png").read_bytes()[:60])),
     r"circle/001\.png: cannot be read as an image .*replace it or remove it"),
    (lambda root: (make_folder(root, per_class=3),
                   (root / "square" / "000.png").write_bytes(b"not an image at all")),
     r"square/000\.png: cannot be read as an image"),
    # train/ and test/ beside a third folder, or one of them alone, were taken as classes
    (lambda root: [make_folder(root / name, per_class=3) for name in ("train", "test", "val")],
     r"bad: holds train/ and test/ and val/; a split folder holds train/ and test/ and nothing "
     r"else \(move val/ out\)$"),
    (lambda root: [make_folder(root / name, per_class=3) for name in ("train", "val")],
     r"bad: holds train/ and val/ but no test/; a split folder holds train/ and test/ and "
     r"nothing else \(rename a validation folder test/, or move val/ out\)$"),
    (lambda root: make_folder(root / "train", per_class=3) and None,
     r"bad: holds train/ but no test/; a split folder holds train/ and test/ and nothing else, "
     r"or give .*bad/train as the dataset \(--test-fraction holds some of it out\)$"),
    (lambda root: make_folder(root / "test", per_class=3) and None,
     r"bad: holds test/ but no train/; a split folder holds train/ and test/ and nothing "
     r"else$"),
])
def test_bad_folders_get_one_line_naming_the_problem(tmp_path, make, message):
    root = tmp_path / "bad"
    make(root)
    with pytest.raises(VaelabError, match=message) as error:
        load_dataset(str(root), progress=False)
    assert "\n" not in str(error.value)


def test_a_folder_that_fails_to_read_says_no_line_of_its_images_read(tmp_path, capsys):
    """'reading bad: 6 images in 0.0 s' came before the error that one could not be read."""
    root = make_folder(tmp_path / "bad", per_class=3)
    (root / "square" / "000.png").write_bytes(b"not an image at all")
    with pytest.raises(VaelabError, match="cannot be read as an image"):
        load_dataset(str(root), progress=True)
    assert "reading bad" not in capsys.readouterr().err
    (root / "square" / "000.png").unlink()
    load_dataset(str(root), progress=True)
    assert "reading bad: 5 images in " in capsys.readouterr().err


def test_a_class_named_train_beside_others_is_a_class(tmp_path):
    root = make_folder(tmp_path / "vehicles", classes=("bus", "car", "train"), per_class=4)
    assert load_dataset(str(root), progress=False).classes == ("bus", "car", "train")


def test_a_folder_one_level_above_its_classes_says_so(tmp_path, caplog):
    root = tmp_path / "wrap"
    make_folder(root / "shapes")  # wrap/shapes/circle, wrap/shapes/square: one class, shapes
    with caplog.at_level("WARNING", logger="vaelab"):
        data = load_dataset(str(root), progress=False)
    assert data.classes == ("shapes",)
    assert [r.getMessage() for r in caplog.records] == [
        f"{root}: its one class folder, shapes/, holds its images in folders of its own; to "
        f"take those as the classes, give {root / 'shapes'} as the dataset"]
    caplog.clear()
    with caplog.at_level("WARNING", logger="vaelab"):
        assert load_dataset(str(root / "shapes"), progress=False).classes == ("circle", "square")
    assert not caplog.records


def test_an_unknown_name_or_missing_path_is_one_line(tmp_path, monkeypatch):
    with pytest.raises(VaelabError, match=r"unknown dataset 'mnsit' \(did you mean mnist\?\); "
                                          r"choose one of: mnist"):
        load_dataset("mnsit")
    for near in ("MNIST", "fashion", "Fashion_MNIST"):  # a case or a word away
        with pytest.raises(VaelabError, match=r"did you mean (fashion-)?mnist\?"):
            load_dataset(near)
    with pytest.raises(VaelabError, match=r"unknown dataset 'cifar10'; choose"):  # none near
        load_dataset("cifar10")
    with pytest.raises(VaelabError, match=r"no images at .*nowhere"):
        load_dataset(str(tmp_path / "nowhere"))
    # A folder here, mistyped, is named, as a path or as a name
    make_folder(tmp_path / "shapes", per_class=2)
    with pytest.raises(VaelabError, match=r"no images at .*shapez \(did you mean shapes\?\); "):
        load_dataset(str(tmp_path / "shapez"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(VaelabError, match=r"^unknown dataset 'shapez' \(did you mean shapes\?\)"):
        load_dataset("shapez")


def test_the_cache_is_used_and_a_changed_file_is_read_again(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "cached", per_class=6)
    first = load_dataset(str(root), progress=False)
    calls = []
    real = folders_module.decode_all
    monkeypatch.setattr(folders_module, "decode_all",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    again = load_dataset(str(root), progress=False)
    assert calls == [] and again.fingerprint() == first.fingerprint()
    path = root / "circle" / "002.png"
    Image.fromarray(255 - _pattern(2, 0)).save(path)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a later write
    changed = load_dataset(str(root), progress=False)
    assert calls == [1] and changed.fingerprint() != first.fingerprint()
    # A file written again with as many bytes (the same image) and a later time: read again
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2 * 10**9))
    load_dataset(str(root), progress=False)
    assert calls == [1, 1]
    # Another --image-size is another cache, not the same arrays
    resized = load_dataset(str(root), progress=False, image_size=8)
    assert calls == [1, 1, 1] and resized.image_shape == (1, 8, 8)
    assert load_dataset(str(root), progress=False).image_shape == (1, 12, 12)
    assert calls == [1, 1, 1]


@pytest.mark.parametrize("damage", ["cut short", "a byte changed"])
def test_a_damaged_cache_is_read_again_from_the_folder(tmp_path, caplog, damage):
    """A cache file cut short, or with a byte changed, ended every command with zipfile's
    traceback until the file was found and deleted by hand."""
    root = make_folder(tmp_path / "cached", per_class=6)
    first = load_dataset(str(root), progress=False)
    cache = folders_module.cache_path(folders_module.list_folder(root), None)
    raw = bytearray(cache.read_bytes())
    if damage == "cut short":
        raw = raw[:len(raw) // 2]
    else:  # inside the images' array, whose CRC then fails
        raw[len(raw) // 3] ^= 0xFF
    cache.write_bytes(bytes(raw))
    with caplog.at_level("WARNING", logger="vaelab"):
        again = load_dataset(str(root), progress=False)
    assert again.fingerprint() == first.fingerprint()
    assert "damaged cache file, reading the folder again" in caplog.text
    assert load_dataset(str(root), progress=False).fingerprint() == first.fingerprint()


def test_every_core_decodes_the_same_images(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "many", per_class=30)
    alone = folders_module.decode_all(folders_module.list_folder(root).files, None,
                                      progress=False, workers=1, root=root)
    monkeypatch.setattr(folders_module, "PARALLEL_FROM", 0)
    monkeypatch.setattr(folders_module, "CHUNK", 7)
    together = folders_module.decode_all(folders_module.list_folder(root).files, None,
                                         progress=False, workers=2, root=root)
    assert np.array_equal(alone.images, together.images)


def test_arrays_in_every_accepted_form(tmp_path):
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (20, 9, 7), dtype=np.uint8)
    np.savez(tmp_path / "grey.npz", images=grey, labels=np.arange(20) % 2,
             classes=np.array(["odd one", "even one"][::-1]))
    data = load_dataset(str(tmp_path / "grey.npz"), progress=False)
    assert data.image_shape == (1, 9, 7) and data.classes == ("even one", "odd one")
    assert len(data.train_images) + len(data.test_images) == 20

    colour = rng.random((12, 6, 6, 3))
    np.save(tmp_path / "colour.npy", colour)
    data = load_dataset(str(tmp_path / "colour.npy"), progress=False)
    assert data.image_shape == (3, 6, 6) and not data.labelled
    every = np.concatenate([data.train_images.numpy(), data.test_images.numpy()])
    assert sorted(every.reshape(12, -1).sum(1)) == sorted(
        np.rint(colour * 255).astype(np.uint8).transpose(0, 3, 1, 2).reshape(12, -1).sum(1))

    np.savez(tmp_path / "split.npz", images=grey, labels=np.arange(20) % 2,
             test_images=grey[:5], test_labels=np.arange(5) % 2)
    data = load_dataset(str(tmp_path / "split.npz"), progress=False, image_size=4)
    assert (len(data.train_images), len(data.test_images)) == (20, 5)
    assert data.image_shape == (1, 4, 4)

    # PyTorch's layout, (N, C, H, W), is read as the same images as (N, H, W, C); labels
    # that are whole floats (0.0, 1.0) as whole numbers
    hwc = rng.integers(0, 256, (10, 8, 6, 3), dtype=np.uint8)
    read = {}
    for name, images in (("hwc", hwc), ("chw", hwc.transpose(0, 3, 1, 2)),
                         ("grey", hwc[..., :1]), ("grey-chw", hwc[..., :1].transpose(0, 3, 1, 2))):
        np.savez(tmp_path / f"{name}.npz", images=images, labels=np.arange(10.0) % 2)
        read[name] = load_dataset(str(tmp_path / f"{name}.npz"), progress=False)
        assert read[name].classes == ("0", "1"), name
        assert read[name].train_labels.dtype == torch.int64, name
    assert read["hwc"].image_shape == (3, 8, 6) and read["grey"].image_shape == (1, 8, 6)
    for hwc_name, chw_name in (("hwc", "chw"), ("grey", "grey-chw")):
        for part in ("train_images", "test_images", "train_labels"):
            assert torch.equal(getattr(read[hwc_name], part), getattr(read[chw_name], part))
    grey, colour = ([image.tobytes() for image in np.concatenate(
        [data.train_images.numpy(), data.test_images.numpy()])[:, :1]] for data in (
        read["grey"], read["hwc"]))  # each split by its own images' hashes: both read alike
    assert sorted(grey) == sorted(colour)
    # Grey images 4 pixels wide are given with their channel, as (N, H, W, 1) says them
    np.save(tmp_path / "narrow.npy", rng.integers(0, 256, (20, 6, 4, 1), dtype=np.uint8))
    assert load_dataset(str(tmp_path / "narrow.npy"), progress=False).image_shape == (1, 6, 4)


@pytest.mark.parametrize(("arrays", "message"), [
    ({"pictures": np.zeros((4, 5, 5), np.uint8)},
     r"has no array named 'images' \(it holds pictures\)"),
    ({"images": np.zeros((4, 5, 5), np.uint8), "labels": np.arange(3)},
     r"4 images but 3 labels; give one label per image"),
    ({"images": np.full((4, 5, 5), 1.5)}, r"floats outside \[0, 1\]"),
    ({"images": np.full((4, 5, 5), np.float32(1.0000001))},  # not 'from 1 to 1'
     r"floats outside \[0, 1\] \(from 1.0000001 to 1.0000001\)"),
    ({"images": np.zeros((4, 5, 5, 2), np.uint8)}, r"has shape \(4, 5, 5, 2\)"),
    ({"images": np.zeros((4, 5, 5), np.uint8), "labels": np.array([0, 1, -1, 0])},
     r"labels has -1; labels count from 0"),
    ({"images": np.array([None] * 4, dtype=object)}, r"holds Python objects"),
    ({"images": np.zeros((4, 5, 5), np.uint8), "labels": np.array(list("abab"))},
     r"labels must be one whole number per image, counting from 0 \(names go in 'classes'\), "
     r"got str32 values of shape \(4,\)"),
    ({"images": np.zeros((3, 5, 5), np.uint8), "labels": np.arange(3), "classes": ["a", "b"]},
     r"labels go up to 2 but classes has only 2 names; give one name per label from 0"),
    ({"images": np.zeros((2, 1, 70_000), np.uint8)},
     r"bad\.npz: images are 70000x1 pixels, wider or taller than the 65,536 that vaelab takes; "
     r"is the shape's order \(N, H, W\) or \(N, H, W, 3\)\?$"),
    ({"images": np.zeros((28, 28, 3), np.uint8)},  # not 28 grey images 3 pixels wide
     r"images has shape \(28, 28, 3\): one colour image\? give a stack of them, "
     r"\(N, H, W, 3\) \(for one image: x\[None\]\); for grey images 3 pixels wide, give "
     r"\(N, H, W, 1\)$"),
    ({"images": np.zeros((20, 6, 4), np.uint8)}, r"for grey images 4 pixels wide, give "),
    ({"images": np.zeros((4, 3, 28, 1), np.uint8)},  # 3 rows of 28 or 3 channels of 28 rows?
     r"images of shape \(4, 3, 28, 1\) may be 28x3 pixels with 1 channel or 1x28 pixels with "
     r"3 channels: save them as x\.transpose\(0, 3, 1, 2\) if the first, as "
     r"x\.transpose\(0, 2, 3, 1\) if the second$"),
    ({"images": np.zeros((4, 5, 5), np.uint8), "test_images": np.zeros((2, 6, 6, 3), np.uint8)},
     r"images are 5x5 pixels with 1 channel but test_images are 6x6 pixels with 3 channels; "
     r"both must have one shape$"),
    ({"images": np.zeros((4, 5, 5), np.uint8), "labels": np.array([0, 0, 1, 2e9])},
     r"the labels go up to 2000000000, for 4 images; give each class a number from 0 up, "
     r"without gaps$"),
    ({"images": np.where(np.arange(75).reshape(3, 5, 5) == 60, np.nan, 0.5)},
     r"images hold NaN pixels \(the first in image 2\); give every pixel a value in \[0, 1\]$"),
    ({"images": np.zeros((4, 5, 5), np.uint8), "labels": np.array([1, 2, 3, 1])},
     r"the labels start at 1; labels count from 0 \(subtract 1\), or name every class from 0 "
     r"in 'classes'$"),
    ({"images": np.zeros((4, 5, 5), np.uint8), "labels": np.array([0, 0.5, 1, 1])},
     r"labels must be one whole number per image"),
    ({"images": np.zeros((2, 5, 5), np.uint8), "labels": np.array([0, 1e19])},
     r"labels must be one whole number per image"),
])
def test_bad_arrays_get_one_line(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(VaelabError, match=message) as error:
        load_dataset(str(path), progress=False)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("name", ["text.npy", "picture.npz"])
def test_a_file_that_is_not_numpy_is_told_so(tmp_path, name):
    path = tmp_path / name
    if name.endswith(".npz"):
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(path, format="PNG")
    else:
        path.write_text("hello\n")
    with pytest.raises(VaelabError, match=rf"{name}: not a NumPy \.np[yz] file \(it does not "
                                          rf"start as one\); save the arrays with numpy"):
        load_dataset(str(path), progress=False)


def test_a_npy_whose_header_asks_for_more_than_memory_is_one_line(tmp_path):
    """Its header says 10^15 pixels; NumPy's own error was a MemoryError's traceback."""
    path = tmp_path / "huge.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False,
                                                 "shape": (10**7, 10**4, 10**4)})
        f.write(bytes(100))
    with pytest.raises(VaelabError, match=r"huge\.npy: its arrays do not fit in memory \(.*\); "
                                          r"if the file is damaged, save the arrays again$"):
        load_dataset(str(path), progress=False)


def test_what_is_not_a_file_or_leads_back_up_is_left_out_of_a_folder(tmp_path, caplog):
    """A broken link and a pipe named as images, and a link back to a folder above: they
    were a wrong hint about --out, a hang, and a path of forty links."""
    root = make_folder(tmp_path / "shapes", per_class=3)
    (root / "circle" / "dead.png").symlink_to(tmp_path / "nowhere.png")
    os.mkfifo(root / "square" / "pipe.png")
    (root / "square" / "up").symlink_to("..")
    (root / "up").symlink_to(".")
    listing = folders_module.list_folder(root)
    assert [os.path.relpath(f, root) for f in listing.files] == [
        f"{c}/{i:03d}.png" for c in ("circle", "square") for i in range(3)]
    assert sorted(os.path.relpath(f, root) for f in listing.skipped) == [
        "circle/dead.png", "square/pipe.png", "square/up", "up"]


def test_a_very_large_image_is_read_without_pillows_warning(tmp_path, monkeypatch, recwarn):
    """Pillow warns of a 'decompression bomb DOS attack' past 89 million pixels: of the
    user's own images, vaelab reads those (and names as unreadable those past twice that)."""
    from PIL import Image as PILImage

    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 100)  # 144-pixel images are 'large'
    root = make_folder(tmp_path / "shapes", per_class=3)
    assert len(load_dataset(str(root), progress=False).train_images) >= 1
    assert not [w for w in recwarn if issubclass(w.category, PILImage.DecompressionBombWarning)]


def test_a_damaged_npz_is_one_line(tmp_path):
    path = tmp_path / "cut.npz"
    np.savez(path, images=np.zeros((50, 8, 8), np.uint8))
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(VaelabError, match=r"cut\.npz: cannot be read as a NumPy .npz file"):
        load_dataset(str(path), progress=False)


# Every command on the user's own images ----------------------------------------------------

SMALL = ["--hidden-dims", "16", "--epochs", "1", "--batch-size", "8", "-q"]


@pytest.mark.parametrize(("classes", "colour", "arch"), [
    (("circle", "square", "triangle"), False, "mlp"),
    ((), True, "conv"),
])
def test_every_command_on_a_folder(tmp_path, capsys, classes, colour, arch):
    import json

    root = make_folder(tmp_path / "shapes", classes=classes, per_class=12, colour=colour)
    run = tmp_path / "run"
    widths = ["--channels", "4", "8"] if arch == "conv" else []
    code, _, err = run_cli(["train", "--dataset", str(root), "--arch", arch, *widths, "-o",
                            str(run), *SMALL], capsys)
    assert code == 0, err
    data = json.loads((run / "config.json").read_text())["data"]
    assert data["dataset"] == str(root.resolve())
    assert data["image_shape"] == [3 if colour else 1, 12, 12]
    assert data["classes"] == list(classes)
    assert len(data["fingerprint"]) == 32
    for name in ("latent", "manifold", "reconstructions", "samples", "interpolation", "loss"):
        assert (run / "figures" / f"{name}.png").is_file(), name
    code, _out, err = run_cli(["eval", str(run), "-k", "5", "-q"], capsys)
    assert code == 0, err
    card = json.loads((run / "eval.json").read_text())
    probe, confidence = card["metrics"]["linear_probe"], card["metrics"]["sample_confidence"]
    if classes:
        assert probe["value"] is not None and confidence["value"] is not None
    else:  # no labels: no probes and no classifier, and the card says why
        assert probe["value"] is None and "no labels" in probe["note"]
        assert confidence["value"] is None and "no labels" in confidence["note"]
    page = tmp_path / "page.html"
    code, _, err = run_cli(["explore", str(run), "-o", str(page), "-q"], capsys)
    assert code == 0 and page.stat().st_size > 10_000, err
    code, _, err = run_cli(["train", "--resume", str(run), "--epochs", "2", "-q", "--no-plots"],
                        capsys)
    assert code == 0, err
    assert json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["epoch"] == 2


def test_a_copy_with_other_files_beside_its_images_is_read_and_told_for_itself(tmp_path,
                                                                               caplog):
    """A copy that keeps the files' times has the same images as its original, and would load
    from the original's cache, so the note on the files it leaves out was never said."""
    import shutil

    root = make_folder(tmp_path / "shapes", per_class=4)
    load_dataset(str(root), progress=False)  # cached
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)  # copies the times too, as cp -p does
    (copy / "README.md").write_text("about these images")
    with caplog.at_level(logging.INFO, logger="vaelab"):
        load_dataset(str(copy), progress=False)
    assert "left out 1 file that is not an image, such as" in caplog.text


def test_an_image_of_a_format_vaelab_does_not_read_beside_others_says_what_to_do(tmp_path,
                                                                                  caplog):
    """A .heic among the PNGs was only 'not an image', with no word of converting it, which
    a folder of nothing but .heic files is told."""
    root = make_folder(tmp_path / "shapes", per_class=4)
    (root / "circle" / "IMG_0001.heic").write_bytes(b"\x00\x00\x00\x18ftypheic")
    with caplog.at_level(logging.INFO, logger="vaelab"):
        load_dataset(str(root), progress=False)
    assert caplog.messages == [f"{root}: left out 1 file that is not an image, such as "
                               f"{Path('circle', 'IMG_0001.heic')}; it holds 1 .heic file, "
                               f"which vaelab does not read: convert it to PNG or JPEG"]


def test_other_files_in_a_folder_are_named_once_even_with_quiet(tmp_path, capsys):
    """A file left out is a warning, which -q keeps (it hides progress and notes)."""
    root = make_folder(tmp_path / "shapes", per_class=8)
    (root / "circle" / "notes.txt").write_text("not an image")
    assert "-q" in SMALL
    code, _, err = run_cli(["train", "--dataset", str(root), "-o", str(tmp_path / "run"),
                            *SMALL], capsys)  # it reads the folder again for the figures
    assert code == 0, err
    assert err.count("left out") == 1 and "left out 1 file that is not an image" in err


@pytest.mark.parametrize("cores", [1, 2])
def test_images_scaled_up_more_than_four_times_are_named(cores, tmp_path, caplog,
                                                         monkeypatch):
    root = make_folder(tmp_path / "shapes", per_class=8, size=(16, 16))
    Image.fromarray(_pattern(3, 0)[:3, :3]).save(root / "circle" / "tiny.png")
    Image.fromarray(_pattern(5, 0)[:5, :5]).save(root / "square" / "five.png")  # 3.2 times
    monkeypatch.setattr(folders_module, "available_cores", lambda: cores)
    monkeypatch.setattr(folders_module, "PARALLEL_FROM", 0)
    monkeypatch.setattr(folders_module, "CHUNK", 3)  # the small ones in different chunks
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        data = load_dataset(str(root), image_size=16, progress=False)
    assert data.image_shape == (1, 16, 16)
    assert (f"{root}: 1 image with a side under 4 pixels was scaled up more than four times "
            f"to 16 x 16 (such as circle/tiny.png), which blurs it; leave it out or give a "
            f"smaller --image-size") in caplog.text


@pytest.mark.parametrize("cores", [1, 2])
def test_images_that_lose_over_a_third_to_the_square_are_named(cores, tmp_path, caplog,
                                                               monkeypatch):
    root = make_folder(tmp_path / "shapes", per_class=4, size=(16, 16))
    Image.fromarray(_pattern(1, 0, (16, 25))).save(root / "circle" / "wide.png")  # 1.56
    Image.fromarray(_pattern(2, 1, (24, 16))).save(root / "square" / "tall.png")  # 1.5
    monkeypatch.setattr(folders_module, "available_cores", lambda: cores)
    monkeypatch.setattr(folders_module, "PARALLEL_FROM", 0)
    monkeypatch.setattr(folders_module, "CHUNK", 3)
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        load_dataset(str(root), image_size=16, progress=False)
    assert [r.getMessage() for r in caplog.records] == [
        f"{root}: 1 image more than 1.5 times as long as wide (such as circle/wide.png) lost "
        f"over a third to the middle 16 x 16 square; crop it as wanted before, or leave it out"]


def _trained_then_moved(tmp_path: Path, capsys) -> tuple[Path, Path, Path]:
    """A run trained on tmp_path/shapes, which then moved into tmp_path/elsewhere: the
    folder it was, the run, and the folder that holds it now."""
    root = make_folder(tmp_path / "shapes", per_class=8)
    run = tmp_path / "run"
    assert run_cli(["train", "--dataset", str(root), "-o", str(run), "--no-plots", *SMALL],
                   capsys)[0] == 0
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    root.rename(moved / "shapes")
    return root, run, moved


def test_a_run_finds_its_moved_data_and_refuses_other_images(tmp_path, capsys):
    root, run, moved = _trained_then_moved(tmp_path, capsys)
    for command in ("plot", "eval"):  # neither has --dataset: the line says --data-dir
        code, _, err = run_cli([command, str(run), "-q"], capsys)
        assert code != 0 and len(err.strip().splitlines()) == 1, err
        assert "are not at" in err and "point --data-dir at the folder that holds shapes" in err
        assert "--dataset" not in err
    code, _, err = run_cli(["plot", str(run), "--data-dir", str(tmp_path), "-q"], capsys)
    assert code != 0 and f"are not at {root}, nor in --data-dir ({tmp_path})" in err
    code, _, err = run_cli(["plot", str(run), "--data-dir", str(moved), "-q"], capsys)
    assert code == 0, err
    Image.fromarray(_pattern(99, 1)).save(moved / "shapes" / "square" / "new.png")
    code, _, err = run_cli(["plot", str(run), "--data-dir", str(moved), "-q"], capsys)
    assert code != 0 and len(err.strip().splitlines()) == 1
    # It names the folder it read, not the one the run recorded, which is gone.
    assert f"the images at {(moved / 'shapes').resolve()} are not those the run was trained" in err


def test_resume_takes_the_runs_folder_of_images_however_it_is_written(tmp_path, capsys,
                                                                       monkeypatch):
    make_folder(tmp_path / "shapes", per_class=8)
    monkeypatch.chdir(tmp_path)
    assert run_cli(["train", "--dataset", "shapes", "-o", "run", "--no-plots", *SMALL],
                   capsys)[0] == 0
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    for epochs, given in enumerate(("../shapes", "../shapes/", str(tmp_path / "shapes")), 2):
        code, _, err = run_cli(["train", "--resume", "../run", "--dataset", given, "--epochs",
                                str(epochs), "-q", "--no-plots"], capsys)
        assert code == 0, err
    code, _, err = run_cli(["train", "--resume", "../run", "--dataset", "../other", "-q"], capsys)
    assert code == 2 and f"--dataset {tmp_path / 'shapes'} -> ../other" in err, err


def test_a_runs_moved_images_are_found_in_vaelab_data_as_in_data_dir(tmp_path, capsys,
                                                                     monkeypatch):
    root, run, moved = _trained_then_moved(tmp_path, capsys)
    monkeypatch.setenv("VAELAB_DATA", str(tmp_path))
    code, _, err = run_cli(["plot", str(run), "-q"], capsys)
    assert code != 0 and f"are not at {root}, nor in VAELAB_DATA ({tmp_path}); point " \
                         f"--data-dir at the folder that holds shapes" in err, err
    monkeypatch.setenv("VAELAB_DATA", str(moved))
    code, _, err = run_cli(["plot", str(run), "-q"], capsys)
    assert code == 0, err
    # A new run's --dataset is where it says: a folder of the same name there is not taken
    code, _, err = run_cli(["train", "--dataset", str(root), "-o", str(tmp_path / "new"),
                            *SMALL], capsys)
    assert code == 2 and f"no images at {root};" in err, err


def test_from_python_a_runs_figures_load_its_images_and_tensors_given_are_named_so(tmp_path):
    """write_run_figures(run) without data ended in "'NoneType' object has no attribute 'to'";
    a run of tensors given from Python, given others, was told of a file that changed."""
    import torch

    from vaelab import DataConfig, ImageData, ModelConfig, RunConfig, TrainConfig, plot_run, train
    from vaelab import write_run_figures as draw

    root = make_folder(tmp_path / "shapes", per_class=8)
    settings = TrainConfig(epochs=1, batch_size=8)
    run = train(RunConfig(ModelConfig(hidden_dims=(16,)), DataConfig(dataset=str(root)),
                          settings), tmp_path / "run", progress=False)
    assert draw(run)["latent"].exists()  # of the run's own images, loaded
    g = torch.Generator().manual_seed(0)
    own, other = (ImageData("toy", (), torch.rand(12, 1, 8, 8, generator=g), None,
                            torch.rand(4, 1, 8, 8, generator=g), None) for _ in range(2))
    toy = train(RunConfig(ModelConfig(hidden_dims=(16,)), DataConfig(dataset="toy"), settings),
                tmp_path / "toy", data=own, progress=False)
    with pytest.raises(VaelabError, match=r"^the images given as data= \(toy\) are not those "
                                          r"the run was trained on; give the run's own as "
                                          r"data=, or train a new run on these$"):
        plot_run(toy, other)


def test_a_cvae_needs_labels(tmp_path, capsys):
    root = make_folder(tmp_path / "plain", classes=(), per_class=10)
    code, _, err = run_cli(["train", "--dataset", str(root), "--model", "cvae", "-o",
                         str(tmp_path / "run"), *SMALL], capsys)
    assert code != 0 and err.endswith(f"learns from labels, and {root} has none; train a VAE "
                                      f"instead, or put the images in one sub-folder per class\n")
    assert not (tmp_path / "run").exists()
    # a NumPy file gets labels its own way, and the line says which
    np.save(tmp_path / "plain.npy", np.zeros((20, 8, 8), np.uint8))
    code, _, err = run_cli(["train", "--dataset", str(tmp_path / "plain.npy"), "--model", "cvae",
                            "-o", str(tmp_path / "run"), *SMALL], capsys)
    assert code != 0 and err.endswith("train a VAE instead, or a .npy holds images alone; save "
                                      "them in a .npz with 'labels' beside 'images'\n"), err


def test_classifier_show_says_what_to_do_for_own_images(tmp_path, capsys):
    """Its advice is a command that works: with the --image-size given, and none at all for
    images without labels, which no classifier judges."""
    labelled = make_folder(tmp_path / "shapes", per_class=4)
    plain = make_folder(tmp_path / "plain", classes=(), per_class=10)
    code, _, err = run_cli(["classifier", "show", "--dataset", str(labelled), "--image-size",
                            "8"], capsys)
    assert code == 2 and err.endswith(
        f"train it with: vaelab classifier train --dataset {labelled} --image-size 8\n")
    # Without --image-size it says that a run's resized images have a classifier of their own
    code, _, err = run_cli(["classifier", "show", "--dataset", str(labelled)], capsys)
    assert code == 2 and err.endswith(
        f"train it with: vaelab classifier train --dataset {labelled}; a run that resized "
        f"them with --image-size N has a classifier of its own: add --image-size N\n")
    code, _, err = run_cli(["classifier", "show", "--dataset", str(plain)], capsys)
    assert code == 2 and err.endswith(f"vaelab: error: {plain} has no labels, so no classifier "
                                      f"judges its images (put them in one sub-folder per class "
                                      f"for one)\n")


def test_compare_refuses_runs_whose_test_images_differ_and_says_which_setting(tmp_path, capsys):
    folder = make_folder(tmp_path / "shapes", per_class=12)
    for name, seed in (("a", "0"), ("b", "1")):
        code, _, err = run_cli(["train", "--dataset", str(folder), "--split-seed", seed,
                                "--no-plots", "-o", str(tmp_path / name), *SMALL], capsys)
        assert code == 0, err
    code, _, err = run_cli(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "-o",
                            str(tmp_path / "cmp")], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert "were trained with --split-seed 0 and 1: their test images differ" in err, err
    assert not (tmp_path / "cmp").exists()  # nothing made
    # The same images at another path (a copy of the folder) are the same images
    copy = shutil.copytree(folder, tmp_path / "copy" / "shapes")
    code, _, err = run_cli(["train", "--dataset", str(copy), "--no-plots", "-o",
                            str(tmp_path / "c"), *SMALL], capsys)
    assert code == 0, err
    code, _, err = run_cli(["compare", str(tmp_path / "a"), str(tmp_path / "c"), "-k", "2",
                            "--samples", "1", "-o", str(tmp_path / "same"), "-q"], capsys)
    assert code == 0, err
    rows = {line.split(",")[0]: line.split(",")[1:]  # and their bounds pair, image by image:
            for line in (tmp_path / "same" / "compare.csv").read_text().splitlines()}
    assert rows["nll_minus_first"][3:5] == ["0.0", "0.0"]  # one run, trained twice alike
    folder.rename(tmp_path / "gone")  # the first run's images moved: the copy's serve both
    code, _, err = run_cli(["compare", str(tmp_path / "a"), str(tmp_path / "c"), "-k", "2",
                            "--samples", "1", "-o", str(tmp_path / "copy-serves"), "-q"], capsys)
    assert code == 0, err


def test_an_empty_class_folder_is_a_warning(tmp_path, monkeypatch):
    said = []
    monkeypatch.setattr(folders_module.log, "warning", lambda text, *a: said.append(text % a))
    folder = make_folder(tmp_path / "shapes")
    (folder / "stars").mkdir()
    data = load_dataset(str(folder), progress=False)
    assert data.classes == ("circle", "square")
    assert said == [f"{folder}: stars/ holds no images, so it is no class"]
    said.clear()  # said when the folder is read, not again by each command from its cache
    monkeypatch.chdir(tmp_path)
    load_dataset("shapes", progress=False)
    assert said == []


def test_own_grey_images_are_drawn_as_they_are_and_mnist_as_ink_on_paper(tmp_path, tiny,
                                                                          monkeypatch):
    """A photograph must not come out as its negative: only the registered datasets (light
    digits on black) are flipped to ink on paper, in the figures, their gaps and `sample`."""
    import torch
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from vaelab import DataConfig, ModelConfig, RunConfig, TrainConfig, train
    from vaelab.data import to_unit
    from vaelab.measuring.latent import latent_picture
    from vaelab.pictures import figures, plots, samples
    from vaelab.pictures.comparison import comparison_figure
    from vaelab.pictures.samples import write_samples

    root = make_folder(tmp_path / "shapes", classes=("circle", "square"), per_class=12)
    own = load_dataset(str(root), progress=False)
    small = TrainConfig(epochs=1, batch_size=8)
    runs = {
        "own": (train(RunConfig(ModelConfig(hidden_dims=(16,)), DataConfig(dataset=str(root)),
                                small), tmp_path / "own", data=own, progress=False), own),
        "mnist": (train(RunConfig(ModelConfig(hidden_dims=(16,)), DataConfig(train_subset=64),
                                  small), tmp_path / "mnist", data=tiny, progress=False), tiny),
    }
    shown = {}  # what the reconstructions figure is handed: row name -> images
    monkeypatch.setattr(plots, "image_rows", lambda rows, **_: shown.update(rows) or plots.Figure())
    for name, (run, data) in runs.items():
        # compare.png's decoder: ink on paper for MNIST only
        picture = latent_picture(run.model, data)
        view = comparison_figure([run], [picture], data).subfigs[0].axes[1].images[0]
        manifold = picture.manifold.picture
        assert np.allclose(view.get_array(), manifold if name == "own" else 1 - manifold)
        figures.write_run_figures(run, data, tmp_path / f"figures-{name}")
        first = to_unit(data.test_images[data.test_labels == 0][0, 0]).numpy()  # of class 0
        expected = first if name == "own" else 1 - first
        assert np.allclose(shown["test image"][0], expected), name
        # `vaelab sample`: samples of 0.9 everywhere (a barely trained decoder draws about
        # 0.5, the same either way) are light, or dark ink; white between them
        h = data.image_shape[1]
        monkeypatch.setattr(samples, "draw_samples",
                            lambda *_, h=h: torch.full((4, 1, h, h), 0.9))
        write_samples(run, tmp_path / f"{name}.png", n=4, seed=3)
        pixels = np.asarray(Image.open(tmp_path / f"{name}.png"))
        assert abs(int(pixels[0, 0]) - (230 if name == "own" else 25)) <= 1, name
        assert (pixels[:, 3 * h:3 * h + 6] == 255).all(), name  # the gap: 2 px, 3 times
    # and the figures draw what they are handed as it is: 0 black, 1 white, a gap white
    with plots.style():
        fig = plots.Figure(figsize=(2, 1), dpi=50)
        plots.show(fig.add_axes((0, 0, 1, 1)), plots._strip(np.array([[[0.0]], [[1.0]]])),
                   aspect="auto")
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
    drawn = np.asarray(canvas.buffer_rgba())[25, :, 0]  # 100 px: 25 black, 50 white, 25 white
    assert (drawn[5:20] == 0).all() and (drawn[30:95] == 255).all()


def test_a_class_name_that_does_not_print_is_quoted_in_an_error():
    """A folder's name may hold a line break: an error stays one line."""
    from vaelab.config import DataConfig, RunConfig
    from vaelab.training.datasets import class_number

    config = RunConfig(data=DataConfig("shapes", classes=("a b\nc", "日本"),
                                       image_shape=(1, 4, 4)))
    with pytest.raises(VaelabError) as info:
        class_number(config, "zzz")
    assert str(info.value) == ("label: unknown class 'zzz'; choose one of: 'a b\\nc', 日本 (or its "
                               "number, 0 to 1)")


def test_images_of_a_single_class_have_no_classifier_and_no_probes(tmp_path, capsys):
    """root/img/*.png, the layout other tools ask for: a classifier of one class scored every
    image 100%, and probes for its one class were right every time."""
    from vaelab import DataConfig, ModelConfig, RunConfig, TrainConfig, train
    from vaelab.measuring.evaluation import evaluate_run

    root = make_folder(tmp_path / "faces", classes=("img",), per_class=24)
    code, _, err = run_cli(["classifier", "train", "--dataset", str(root), "-q"], capsys)
    assert code == 2 and err == (f"vaelab: error: {root} holds images of one class only (img), "
                                 f"so a classifier has nothing to tell apart: it needs two or "
                                 f"more\n")
    code, _, err = run_cli(["classifier", "show", "--dataset", str(root), "-q"], capsys)
    assert code == 2 and "one class only, so no classifier judges its images" in err
    data = load_dataset(str(root), progress=False)
    assert data.labelled and not data.apart  # the labels stay, and runs keep their data
    config = RunConfig(ModelConfig(hidden_dims=(16,)), DataConfig(dataset=str(root)),
                       TrainConfig(epochs=1, batch_size=8))
    run = train(config, tmp_path / "run", data=data, progress=False)
    card = evaluate_run(run, data, k=5, progress=False, judge="cached")
    one = "the images are all of one class, so there is no class to probe for or judge by"
    for key in ("linear_probe", "knn", "sample_confidence", "grid_digits"):
        assert card.metrics[key].value is None and card.metrics[key].note.startswith(one), key


def test_a_cvae_of_images_of_a_single_class_says_so(tmp_path, capsys):
    root = make_folder(tmp_path / "faces", classes=("img",), per_class=24)
    code, _, err = run_cli(["train", "--model", "cvae", "--dataset", str(root), "-q"], capsys)
    assert code == 2 and err.endswith(f"a CVAE learns from labels, and {root} has one class; "
                                      f"train a VAE instead, or give it two classes or more\n")


def test_arrays_take_the_widest_images_that_a_runs_config_takes():
    """Two layers that may not import each other keep the bound each: the same one."""
    from vaelab.config import checks
    from vaelab.data import arrays

    assert arrays.WIDEST == checks.WIDEST


def test_images_are_read_as_they_are_shown(tmp_path):
    """A phone's portrait photo stands up, a transparent part is black whatever colour lies
    under it, deep greys (16- and 32-bit integers, floats in [0, 1]) keep their contrast, and
    a palette of greys is a grey image: each of these was read wrongly, and silently."""
    from vaelab.data.decoding import read_image

    upright = np.zeros((20, 10), np.uint8)
    upright[:5] = 255  # bright at the top, as the photo is shown
    photo = Image.fromarray(np.rot90(upright).copy())  # stored turned, 10 high and 20 wide
    exif = photo.getexif()
    exif[0x0112] = 6  # shown turned a quarter clockwise
    photo.save(tmp_path / "photo.jpg", exif=exif, quality=100)
    shown, *_ = read_image(str(tmp_path / "photo.jpg"), None)
    assert shown.shape == (20, 10, 1) and shown[:5].mean() > 200 and shown[10:].mean() < 50

    icon = np.zeros((4, 4, 4), np.uint8)
    icon[..., 0] = 255  # red everywhere, hidden where alpha is 0
    icon[:2, :, 3] = 255  # the top half shown
    Image.fromarray(icon, "RGBA").save(tmp_path / "icon.png")
    pixels, *_ = read_image(str(tmp_path / "icon.png"), None)
    assert pixels[:2, :, 0].min() == 255 and pixels[2:].max() == 0

    ramp = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)
    Image.fromarray(ramp, "F").save(tmp_path / "float.tif")
    Image.fromarray((ramp * 65535).astype(np.int32), "I").save(tmp_path / "deep.tif")
    for name in ("float.tif", "deep.tif"):
        grey, *_ = read_image(str(tmp_path / name), None)
        assert grey.shape == (4, 4, 1) and grey.min() == 0 and grey.max() == 255, name
        assert np.all(np.diff(grey.ravel().astype(int)) > 0), name  # the ramp, not clipped

    from vaelab.data.decoding import to_array

    deep = Image.frombytes("I;16", (4, 4), (np.arange(16, dtype=np.uint16) * 4000).tobytes())
    deep.info["transparency"] = 4000  # a PNG's one transparent value, of 16 bits
    assert to_array(deep, None)[0, :3, 0].tolist() == [0, 0, 31]  # 4000 is black, 8000 not
    high = Image.frombytes("I;16", (3, 1), np.array([25600, 65535, 255], np.uint16).tobytes())
    assert to_array(high, None)[0, :, 0].tolist() == [100, 255, 0]  # by the high byte
    palette = Image.fromarray(np.arange(16, dtype=np.uint8).reshape(4, 4) * 16).convert(
        "P", palette=Image.Palette.ADAPTIVE)
    assert palette.mode == "P"
    palette.save(tmp_path / "palette.png")
    assert read_image(str(tmp_path / "palette.png"), None)[0].shape == (4, 4, 1)


def test_every_unreadable_file_is_counted_in_one_line(tmp_path):
    root = make_folder(tmp_path / "shapes", per_class=6)
    for name in ("circle/bad1.png", "circle/bad2.png", "square/bad3.png"):
        (root / name).write_bytes(b"not an image")
    with pytest.raises(VaelabError) as error:
        load_dataset(str(root), progress=False)
    message = str(error.value)
    assert message.startswith(f"{root / 'circle' / 'bad1.png'}: cannot be read as an image (")
    assert message.endswith(f"), nor can 2 more (such as {root / 'circle' / 'bad2.png'}); "
                            f"replace them or remove them from the folder")


def test_a_folder_named_as_a_registered_dataset_is_told_apart(tmp_path, monkeypatch, caplog):
    """An export of MNIST as PNGs in ./mnist is not what --dataset mnist reads, silently."""
    from vaelab.data import registry

    monkeypatch.chdir(tmp_path)
    make_folder(tmp_path / "mnist", per_class=2)
    registry._say_if_a_folder_is_named_so.cache_clear()
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        for name in ("mnist", "fashion-mnist"):  # said before it is looked for
            with contextlib.suppress(VaelabError):  # not found, where it is not installed
                load_dataset(name, tmp_path / "no data", download=False, progress=False)
    assert [m for m in caplog.messages if "is the registered" in m] == [  # as Python says it
        "'mnist' is the registered MNIST, not the folder of images ./mnist here; give "
        "'./mnist' to train on that"]  # no folder ./fashion-mnist here
    registry._say_if_a_folder_is_named_so.cache_clear()


def test_grey_images_stored_as_colour_are_told(tmp_path, caplog):
    """They train as colour, three times the work, and nothing said so."""
    root = tmp_path / "greyrgb"
    root.mkdir()
    for i in range(6):
        grey = _pattern(i, 0)
        Image.fromarray(np.stack([grey] * 3, axis=2)).save(root / f"{i}.png")
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        data = load_dataset(str(root), progress=False)
    assert data.image_shape == (3, 12, 12)  # as before: runs trained on them keep their data
    stored = ("grey stored as colour (the same in all three channels, such as 0.png), so all "
              "train as colour, with three times the work of grey; save them as grey images to "
              "train on one channel")
    assert caplog.messages == [f"{root}: every image is {stored}"]
    caplog.clear()  # beside grey ones, as many as are stored so are counted, and none is colour
    for i in range(3):
        Image.fromarray(_pattern(i + 10, 1)).save(root / f"grey{i}.png")
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        load_dataset(str(root), progress=False)
    assert caplog.messages == [f"{root}: 6 of the 9 images are {stored}"]
    caplog.clear()
    make_folder(tmp_path / "colour", classes=(), per_class=6, colour=True)
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        load_dataset(str(tmp_path / "colour"), progress=False)
    assert not caplog.messages


def test_fit_scales_the_shorter_side_and_keeps_the_middle_square():
    """A 20 x 30 image at --image-size 20 is its middle 20 rows (not its top, nor the whole
    image squeezed); at 10, the same, halved: what is square in it stays square."""
    from vaelab.data.decoding import fit

    rows = np.repeat(np.arange(0, 240, 8, dtype=np.uint8)[:, None], 20, axis=1)  # (30, 20)
    tall = Image.fromarray(rows)
    assert np.array_equal(np.asarray(fit(tall, 20)), rows[5:25])
    halved = np.asarray(tall.resize((10, 15), Image.Resampling.LANCZOS))
    assert np.array_equal(np.asarray(fit(tall, 10)), halved[2:12])
    wide = Image.fromarray(np.ascontiguousarray(rows.T))  # 30 x 20: the middle columns
    assert np.array_equal(np.asarray(fit(wide, 20)), rows.T[:, 5:25])


@pytest.mark.parametrize(("fraction", "held_out"), [(0.17, 2), (0.01, 1), (0.99, 9)])
def test_each_class_holds_out_its_rounded_share_and_keeps_one_of_each_part(tmp_path, fraction,
                                                                          held_out):
    """Of 10 images a class, 17% is 1.7: two held out, not one; at least one, at most 9."""
    root = make_folder(tmp_path / "shapes", per_class=10)
    data = load_dataset(str(root), progress=False, test_fraction=fraction)
    assert data.test_labels.tolist().count(0) == data.test_labels.tolist().count(1) == held_out


def test_a_run_folder_inside_its_image_folder_is_refused_before_anything_is_made(
        tmp_path, capsys, monkeypatch):
    """Its figures and checkpoints would be read as images by every later command (a class
    'runs' beside the user's), and plot, eval and explore of the run then failed."""
    root = make_folder(tmp_path / "shapes", per_class=10)
    inside = root / "run1"
    code, _, err = run_cli(["train", "--dataset", str(root), "-o", str(inside), *SMALL], capsys)
    assert code != 0 and err == (f"vaelab: error: {inside}: inside the image folder {root}, "
                                 f"whose files are all read as images; give --out a folder "
                                 f"outside it\n")
    assert not inside.exists()
    monkeypatch.chdir(root)  # the default runs/ there
    code, _, err = run_cli(["train", "--dataset", ".", *SMALL], capsys)
    assert code != 0 and err.startswith("vaelab: error: runs: inside the image folder .,")
    monkeypatch.setenv("HOME", str(tmp_path))  # a folder named from home, as written
    code, _, err = run_cli(["train", "--dataset", "~/shapes", "-o", str(inside), *SMALL],
                           capsys)
    assert code != 0 and "inside the image folder ~/shapes," in err, err
    import vaelab

    with pytest.raises(VaelabError, match=r"whose files are all read as images; give the run a "
                                          r"folder outside it$"):  # from Python: no --out
        vaelab.train(vaelab.RunConfig(data=vaelab.DataConfig(str(root))), inside,
                     progress=False)
    assert sorted(p.name for p in root.iterdir()) == ["circle", "square"]


def test_class_names_without_labels_are_named_as_left_out(tmp_path, caplog):
    np.savez(tmp_path / "names.npz", images=np.zeros((8, 5, 5), np.uint8), classes=["a", "b"])
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        data = load_dataset(str(tmp_path / "names.npz"), progress=False)
    assert not data.labelled
    assert f"{tmp_path / 'names.npz'}: left out classes: with no labels, no image has a " \
           f"class" in caplog.messages


def test_settings_recorded_from_images_since_changed_train_on_them_and_say_so(tmp_path, capsys,
                                                                             caplog):
    """vaelab train --config RUN reran a run's settings on its folder without a word where a
    file had been added since; flags that choose other images (another split) are no change
    to tell."""
    root = make_folder(tmp_path / "shapes", per_class=8)
    run = tmp_path / "run"
    assert run_cli(["train", "--dataset", str(root), "-o", str(run), "--no-plots", *SMALL],
                   capsys)[0] == 0
    said = "not the images that the settings given were recorded from"
    code, _, err = run_cli(["train", "--config", str(run), "-o", str(tmp_path / "same"),
                            "--no-plots"], capsys)
    assert code == 0 and said not in err
    Image.fromarray(_pattern(99, 1)).save(root / "square" / "new.png")
    code, _, err = run_cli(["train", "--config", str(run), "-o", str(tmp_path / "again"),
                            "--no-plots"], capsys)
    assert code == 0 and f"vaelab: {root}: {said} (a file changed, was added or removed " \
        f"since, or the dataset or its split did); the new run learns from these\n" in err, err
    make_folder(root, classes=("circle", "square", "tri"), per_class=8)  # a class more
    code, _, err = run_cli(["train", "--config", str(run), "-o", str(tmp_path / "classes"),
                            "--no-plots"], capsys)
    assert code == 0 and said in err, err
    code, _, err = run_cli(["train", "--config", str(run), "--split-seed", "5", "-o",
                            str(tmp_path / "split"), "--no-plots"], capsys)
    assert code == 0 and said not in err, err


def test_settings_recorded_from_other_tensors_say_so_as_tensors(tmp_path, caplog):
    from vaelab import DataConfig, ImageData, ModelConfig, RunConfig, TrainConfig, train
    from vaelab.training.datasets import recorded

    root = make_folder(tmp_path / "shapes", per_class=8)
    saved = train(RunConfig(ModelConfig(hidden_dims=(16,)), DataConfig(dataset=str(root)),
                            TrainConfig(epochs=1, batch_size=8)), tmp_path / "run",
                  progress=False).config
    images = load_dataset(str(root), progress=False)
    mine = ImageData("mine", images.classes, images.train_images[1:], images.train_labels[1:],
                     images.test_images, images.test_labels)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        recorded(saved, images)  # the same images: nothing to say
        recorded(saved, load_dataset(str(root), image_size=16, progress=False))  # nor of images
        assert caplog.messages == []  # of another size, as a script asks for them
        recorded(saved, mine)
    assert caplog.messages == ["mine: not the images that the settings given were recorded "
                               "from (other tensors given as data=); the new run learns from "
                               "these"]


def test_a_demo_on_images_moved_since_finishes_with_data_dir(tmp_path, capsys):
    """demo --resume of a demo whose images had moved said 'give --dataset a folder', which
    --resume then refused: it looks for them as a run's moved images are looked for."""
    root = make_folder(tmp_path / "shapes", per_class=12)
    demo = tmp_path / "demo"
    code, _, err = run_cli(["demo", "--dataset", str(root), "--epochs", "1", "--batch-size",
                            "8", "-o", str(demo), "-q"], capsys)
    assert code == 0, err
    (demo / "index.html").unlink()  # its page unwritten: the demo is not finished
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    root.rename(moved / "shapes")
    code, _, err = run_cli(["demo", "--resume", str(demo), "-q"], capsys)
    assert code == 2 and "point --data-dir at the folder that holds shapes now" in err, err
    code, _, err = run_cli(["demo", "--resume", str(demo), "--data-dir", str(moved), "-q"],
                           capsys)
    assert code == 0 and (demo / "index.html").is_file(), err


def test_settings_rerun_on_moved_images_record_where_they_are_now(tmp_path, capsys):
    """train --config RUN --data-dir DIR on images moved since trained, but its config.json
    named their old place, so that plotting the new run failed at once."""
    _, run, moved = _trained_then_moved(tmp_path, capsys)
    again = tmp_path / "again"
    code, _, err = run_cli(["train", "--config", str(run), "--data-dir", str(moved), "-o",
                            str(again), "--no-plots", "-q"], capsys)
    assert code == 0, err
    assert json.loads((again / "config.json").read_text())["data"]["dataset"] == str(
        (moved / "shapes").resolve())
    code, _, err = run_cli(["plot", str(again), "-q"], capsys)  # no --data-dir needed
    assert code == 0, err


def test_settings_rerun_on_moved_images_find_them_in_vaelab_data(tmp_path, capsys,
                                                                 monkeypatch):
    """train --config RUN on images moved since into $VAELAB_DATA said 'no images at ...;
    give --dataset a folder of images', where a plot of the same run found them there."""
    root, run, moved = _trained_then_moved(tmp_path, capsys)
    monkeypatch.delenv("VAELAB_DATA", raising=False)
    code, _, err = run_cli(["train", "--config", str(run), "-o", str(tmp_path / "lost"),
                            "--no-plots", "-q"], capsys)
    assert code == 2 and err == f"vaelab: error: the run's images are not at {root}; give " \
        f"--dataset where they are now, or point --data-dir at the folder that holds shapes " \
        f"now, under that name\n", err
    monkeypatch.setenv("VAELAB_DATA", str(moved))
    again = tmp_path / "again"
    code, _, err = run_cli(["train", "--config", str(run), "-o", str(again), "--no-plots",
                            "-q"], capsys)
    assert code == 0 and "not at" not in err and "not the images" not in err, err
    assert json.loads((again / "config.json").read_text())["data"]["dataset"] == str(
        (moved / "shapes").resolve())


def test_a_demos_run_resumed_alone_says_the_demos_page_shows_it_as_it_was(tmp_path, capsys):
    """train --resume of one of a demo's runs left the demo's page and comparison showing
    the run's first epochs, without a word."""
    root = make_folder(tmp_path / "shapes", per_class=12)
    demo = tmp_path / "demo"
    code, _, err = run_cli(["demo", "--dataset", str(root), "--epochs", "1", "--batch-size",
                            "8", "-o", str(demo), "-q"], capsys)
    assert code == 0, err
    code, _, err = run_cli(["train", "--resume", str(demo / "vae"), "--epochs", "2",
                            "--no-plots", "-q"], capsys)
    assert code == 0 and err.endswith(
        f"vaelab: {demo.resolve() / 'index.html'} still shows vae as the demo left it; vaelab "
        f"compare {demo / 'ae'} {demo / 'vae'} sets the demo's runs side by side again\n"), err
    code, _, err = run_cli(["train", "--dataset", str(root), "-o", str(tmp_path / "run"),
                            "--no-plots", *SMALL], capsys)  # a run of no demo: no such line
    code, _, err = run_cli(["train", "--resume", str(tmp_path / "run"), "--epochs", "2",
                            "--no-plots", "-q"], capsys)
    assert code == 0 and "as the demo left it" not in err, err


def test_a_name_that_is_not_utf8_is_refused_in_one_line(tmp_path):
    """A class folder unpacked from an archive of another system, named in Latin-1, ended in
    a UnicodeEncodeError from deep inside the folder's cache."""
    root = make_folder(tmp_path / "shapes", per_class=4)
    os.rename(root / "circle", os.fsencode(root) + b"/caf\xe9")
    with pytest.raises(VaelabError, match=r"^.*/shapes/caf\ufffd: its name is not UTF-8 text "
                                          r"\(it was made on another system, say\); rename it "):
        load_dataset(str(root), progress=False)
    os.rename(os.fsencode(root) + b"/caf\xe9", root / "circle")
    os.mkdir(os.fsencode(root) + b"/\xe9xtra")  # a stray folder without images: no class,
    assert load_dataset(str(root), progress=False).classes == ("circle", "square")  # no error
    Image.fromarray(_pattern(0, 0)).save(os.fsencode(root / "square") + b"/f\xfcr.png")
    with pytest.raises(VaelabError, match=r"square/f\ufffdr\.png: its name is not UTF-8"):
        load_dataset(str(root), progress=False)


def test_formats_vaelab_does_not_read_are_named_and_jfif_is_read(tmp_path):
    """A folder of .heic photos 'held no images', without a word of the six it held; .jfif
    files (JPEGs, as Windows saves images from the web) were left out as not images."""
    root = tmp_path / "phone"
    root.mkdir()
    for i in range(3):
        (root / f"IMG_{i}.HEIC").write_bytes(b"\0\0\0\x18ftypheic")
    (root / "IMG_9.avif").write_bytes(b"\0\0\0\x18ftypavif")
    with pytest.raises(VaelabError, match=r"holds no images \(PNG, JPEG, .*\); it holds 1 "
                                          r"\.avif, 3 \.heic files, which vaelab does not "
                                          r"read: convert them to PNG or JPEG$"):
        load_dataset(str(root), progress=False)
    for i in range(4):
        Image.fromarray(_pattern(i, i % 2)).save(root / f"web{i}.jfif", format="JPEG")
    assert load_dataset(str(root), progress=False, test_fraction=0.25).train_images.shape[0] \
        == 3


def test_blank_images_are_told(tmp_path, caplog):
    """Black drawings on a transparent background read as black on black: every image was
    blank, and training went on without a word of it."""
    root = tmp_path / "icons"
    root.mkdir()
    for i in range(6):
        rgba = np.zeros((16, 16, 4), dtype=np.uint8)
        rgba[4 + i % 3:10, 4:10, 3] = 255  # a black square, opaque; the rest transparent
        Image.fromarray(rgba, "RGBA").save(root / f"{i}.png")
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        data = load_dataset(str(root), progress=False)
    assert int(data.train_images.max()) == 0
    assert f"{root}: every image is blank, one flat colour throughout (such as 0.png), with " \
           f"nothing to learn; a transparent background is read as black, so drawings in " \
           f"black on one vanish: put them on white first" in caplog.messages
    Image.fromarray(_pattern(7, 0, (16, 16))).save(root / "7.png")  # one with something in it
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        load_dataset(str(root), progress=False)
    assert any(m.startswith(f"{root}: 6 of the 7 images are blank") for m in caplog.messages)
    # An image of one colour is blank too (green: 0 in two channels, 255 in one)
    colours = make_folder(tmp_path / "colours", classes=(), per_class=3, colour=True, size=(16, 16))
    Image.fromarray(np.tile(np.array([0, 255, 0], np.uint8), (16, 16, 1))).save(
        colours / "green.png")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        load_dataset(str(colours), progress=False)
    assert any(m.startswith(f"{colours}: 1 of the 4 images is blank, one flat colour throughout "
                            f"(such as green.png)") for m in caplog.messages), caplog.messages


def test_images_too_large_for_the_memory_are_refused_before_they_are_read(tmp_path,
                                                                          monkeypatch):
    """A folder of full-size photos without --image-size was decoded, and cached on disk, at
    full size, before the model's weights were refused with the advice of --hidden-dims."""
    root = make_folder(tmp_path / "photos", per_class=3, size=(300, 400))
    monkeypatch.setattr(decoding, "physical_memory", lambda: 2**19)
    monkeypatch.setattr(folders_module, "decode_all", None)  # never reached
    with pytest.raises(VaelabError, match=r"photos: its 6 images of 400 x 300 pixels, such as "
                                          r"circle/000\.png, would take 0\.0 GiB to read, more "
                                          r"than this machine's 0\.0 GiB of memory; give "
                                          r"image_size \(64, say\) to read them smaller$"):
        load_dataset(str(root), progress=False)
    with pytest.raises(VaelabError, match=r"images of 200 x 200 .* give a smaller image_size"):
        load_dataset(str(root), image_size=200, progress=False)
    monkeypatch.undo()
    assert load_dataset(str(root), image_size=16, progress=False).image_shape == (1, 16, 16)
