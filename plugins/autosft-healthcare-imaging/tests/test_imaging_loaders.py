"""The three loaders on real files: layout, geometry, normalization, labels, bad input and caching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from imaging_helpers import write_manifest, write_npz, write_png, write_tree
from PIL import Image
from pydantic import ValidationError

from autosft.components import Splits
from autosft.default_plugins.vision import assemble
from autosft.default_plugins.vision.cache import cache_dir, clear_memory_cache
from autosft.default_plugins.vision.loaders import FolderDataset, ManifestDataset, NpzDataset
from autosft.default_plugins.vision.options import FolderOptions, ManifestOptions, NpzOptions
from autosft.default_plugins.vision.splitting import split_rows
from autosft.errors import ConfigError, DataError
from autosft.evaluate.folds import cross_validation_folds

TREE = {"train": {"healthy": 12, "sick": 8}, "val": {"healthy": 4, "sick": 3}, "test": {"healthy": 4, "sick": 3}}


def _npz(path: Path, **options: object) -> Splits:
    return NpzDataset().load(NpzOptions(path=path, **options), task="binary", seed=0)


def _folder(root: Path, **options: object) -> Splits:
    return FolderDataset().load(FolderOptions(root=root, **options), task="binary", seed=0)


def _manifest(path: Path, task: str = "binary", **options: object) -> Splits:
    return ManifestDataset().load(ManifestOptions(path=path, **options), task=task, seed=0)


# --- image_npz ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("column_labels", [False, True], ids=["labels(N)", "labels(N,1)"])
def test_npz_keeps_the_official_split_and_normalizes(tmp_path: Path, column_labels: bool) -> None:
    splits = _npz(write_npz(tmp_path / "d.npz", column_labels=column_labels))
    assert [len(splits.train), len(splits.val), len(splits.test)] == [96, 32, 32]
    assert splits.train.inputs.shape == (96, 1, 16, 16) and splits.train.inputs.dtype == np.float32
    assert splits.train.labels.shape == (96,) and splits.input_kind == "image"
    assert splits.class_names == ("0", "1") and splits.info["given_splits"] == ["train", "val", "test"]
    # mean 0.5 / std 0.5 maps [0, 1] pixels onto [-1, 1]
    assert splits.train.inputs.min() >= -1.0 and splits.train.inputs.max() <= 1.0


def test_npz_resizes_converts_channels_and_uses_per_channel_stats(tmp_path: Path) -> None:
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    splits = _npz(write_npz(tmp_path / "d.npz"), image_size=24, channels=3, mean=mean, std=std)
    assert splits.train.inputs.shape == (96, 3, 24, 24)
    pixels = splits.train.inputs * np.array(std)[None, :, None, None] + np.array(mean)[None, :, None, None]
    assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5
    np.testing.assert_allclose(pixels[:, 0], pixels[:, 2], atol=1e-5)  # grey repeated into every channel


def test_npz_rgb_to_grey(tmp_path: Path) -> None:
    splits = _npz(write_npz(tmp_path / "d.npz", colour=True), channels=1)
    assert splits.train.inputs.shape == (96, 1, 16, 16)
    assert _npz(write_npz(tmp_path / "e.npz", colour=True)).train.inputs.shape == (96, 3, 16, 16)


def test_positive_class_moves_to_index_one(tmp_path: Path) -> None:
    path = write_npz(tmp_path / "d.npz")
    plain = _npz(path, class_names=["malignant", "benign"])
    flipped = _npz(path, class_names=["malignant", "benign"], positive_class="malignant")
    assert flipped.class_names == ("benign", "malignant") and flipped.info["positive_class"] == "malignant"
    np.testing.assert_array_equal(flipped.train.labels, 1 - plain.train.labels)
    with pytest.raises(ConfigError, match=r"positive_class 'tumour' is not a class .* malignant, benign"):
        _npz(path, class_names=["malignant", "benign"], positive_class="tumour")


def test_npz_without_val_and_test_holds_them_out_of_train(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    arrays = dict(np.load(write_npz(tmp_path / "full.npz", counts=(120, 4, 4))))
    np.savez(path, train_images=arrays["train_images"], train_labels=arrays["train_labels"])
    splits = _npz(path, val_fraction=0.2, test_fraction=0.2)
    assert [len(splits.train), len(splits.val), len(splits.test)] == [72, 24, 24]
    assert splits.info["given_splits"] == ["train"]


def test_npz_label_outside_the_declared_classes_names_key_and_row(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    arrays = dict(np.load(write_npz(tmp_path / "ok.npz")))
    arrays["val_labels"][5] = 7
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=r"d\.npz.*val_labels row 5 holds label 7, outside the declared classes 0\.\.1"):
        _npz(path, class_names=["a", "b"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"train_images": np.zeros((4, 16), np.uint8)}, r"train_images has shape \(4, 16\)"),
        ({"train_labels": np.zeros(3, np.uint8)}, r"train_labels has 3 labels for 96 images"),
        ({"test_images": np.zeros((32, 20, 20), np.uint8)}, r"test_images are 20x20 but train_images are 16x16"),
        ({"val_images": np.full((32, 16, 16), 2.0)}, r"val_images holds floats in \[2, 2\]"),
    ],
    ids=["image-shape", "label-count", "size-mismatch", "float-range"],
)
def test_npz_bad_arrays_are_one_line_errors(tmp_path: Path, change: dict[str, np.ndarray], message: str) -> None:
    arrays = {**dict(np.load(write_npz(tmp_path / "ok.npz"))), **change}
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=message) as caught:
        _npz(tmp_path / "bad.npz")
    assert "\n" not in str(caught.value)


def test_npz_missing_or_corrupt_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"npz file '.*nothing\.npz' does not exist"):
        _npz(tmp_path / "nothing.npz")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match=r"cannot read npz file '.*broken\.npz'"):
        _npz(tmp_path / "broken.npz")


# --- image_folder ------------------------------------------------------------------------------------


def test_folder_with_split_folders(tmp_path: Path) -> None:
    splits = _folder(write_tree(tmp_path / "tree", TREE))
    assert splits.class_names == ("healthy", "sick")
    assert [len(splits.train), len(splits.val), len(splits.test)] == [20, 7, 7]
    assert splits.info["class_counts"]["train"] == [12, 8]
    assert splits.train.inputs.shape == (20, 1, 16, 16)


def test_folder_of_class_folders_is_split_stratified(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "tree", {"": {"healthy": 40, "sick": 20}})
    splits = _folder(root, val_fraction=0.25, test_fraction=0.25, image_size=8)
    assert [len(splits.train), len(splits.val), len(splits.test)] == [30, 15, 15]
    assert [int(splits.val.labels.sum()), int(splits.test.labels.sum())] == [5, 5]
    assert splits.train.inputs.shape[2:] == (8, 8)


def test_folder_empty_class_folder(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "tree", TREE)
    (root / "val" / "other").mkdir()
    with pytest.raises(DataError, match=r"class folder '.*val/other' has no images"):
        _folder(root)


def test_folder_class_outside_the_declared_ones(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "tree", TREE)
    with pytest.raises(
        DataError, match=r"class folder '.*/train/healthy' is not a declared class; declared classes: a, b"
    ):
        _folder(root, class_names=["a", "b"])


def test_folder_odd_size_and_mode_error_or_skip(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "tree", TREE)
    write_png(root / "train" / "sick" / "big.png", 1, np.random.default_rng(0), size=20)
    Image.new("CMYK", (16, 16)).save(root / "train" / "healthy" / "print.jpg")
    with pytest.raises(DataError, match=r"image '.*print\.jpg' has unsupported mode 'CMYK'"):
        _folder(root)
    Path(root / "train" / "healthy" / "print.jpg").unlink()
    with pytest.raises(
        DataError, match=r"image '.*big\.png' is 20x20 grey but most images are 16x16 grey; set image_size"
    ):
        _folder(root)
    splits = _folder(root, on_bad_image="skip")
    assert splits.info["skipped_images"] == 1 and "big.png" in splits.info["skipped_examples"][0]
    assert len(splits.train) == 20
    assert len(_folder(root, image_size=16).train) == 21  # resizing makes it usable


def test_folder_mixed_grey_and_colour_needs_channels(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "tree", TREE)
    write_png(root / "test" / "sick" / "rgb.png", 1, np.random.default_rng(0), colour=True)
    with pytest.raises(DataError, match=r"rgb\.png' is 16x16 RGB but most images are 16x16 grey; set channels"):
        _folder(root)
    assert _folder(root, channels=3).test.inputs.shape == (8, 3, 16, 16)


# --- image_manifest ----------------------------------------------------------------------------------


def _patients_manifest(folder: Path, patients: int = 30, per_patient: int = 3) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for patient in range(patients):
        label = int(patient % 3 == 0)
        for shot in range(per_patient):
            name = f"images/p{patient}_{shot}.png"
            write_png(folder / name, label, rng)
            rows.append({"path": name, "label": ["benign", "malignant"][label], "patient": f"P{patient:03d}"})
    return write_manifest(folder / "manifest.csv", rows)


def test_manifest_split_keeps_every_patient_in_one_split(tmp_path: Path) -> None:
    manifest = _patients_manifest(tmp_path)
    splits = _manifest(manifest, patient_column="patient", val_fraction=0.2, test_fraction=0.2)
    # 30 patients counted once each over the three splits: none has images in two of them.
    assert splits.info["patients"] == {"train": 18, "val": 6, "test": 6}
    assert splits.info["rows"] == {"train": 54, "val": 18, "test": 18}


def test_patients_ride_along_through_the_disk_cache_and_stay_whole_in_folds(tmp_path: Path) -> None:
    manifest = _patients_manifest(tmp_path)
    first = _manifest(manifest, patient_column="patient", disk_cache=True)
    clear_memory_cache()  # as a fresh worker process starts: the splits come from the disk cache
    splits = _manifest(manifest, patient_column="patient", disk_cache=True)
    assert splits.group_unit == "patient"
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(splits, name).groups, getattr(first, name).groups)
        assert len(getattr(splits, name).groups) == len(getattr(splits, name))
    for fold in cross_validation_folds(splits, 4, seed=0):  # validation: {folds: 4}
        assert not set(fold.train.groups.tolist()) & set(fold.val.groups.tolist())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_patient_aware_split_is_disjoint_complete_and_stratified(seed: int) -> None:
    groups = [f"P{index // 3}" for index in range(90)]
    labels = np.array([int((index // 3) % 3 == 0) for index in range(90)])
    parts = split_rows(labels, groups, val_fraction=0.2, test_fraction=0.2, seed=seed, source="m")
    owners = {name: {groups[row] for row in rows} for name, rows in parts.items()}
    assert not owners["train"] & owners["val"] and not owners["train"] & owners["test"]
    assert not owners["val"] & owners["test"]
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(90))
    assert all(labels[rows].any() and not labels[rows].all() for rows in parts.values())


def test_too_few_patients_for_the_split_is_a_data_error() -> None:
    with pytest.raises(DataError, match=r"3 patients are too few"):
        split_rows(np.array([0, 1, 0, 1, 0, 1]), ["a", "a", "b", "b", "c", "c"], val_fraction=0.2,
                   test_fraction=0.2, seed=0, source="m")  # fmt: skip


def test_manifest_given_split_with_a_patient_in_two_splits_is_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = []
    for index, split in enumerate(["train", "train", "val", "test", "train", "val", "test", "train"]):
        write_png(tmp_path / f"{index}.png", index % 2, rng)
        rows.append(
            {"file": f"{index}.png", "y": index % 2, "split": split, "pid": "same" if index in (1, 2) else index}
        )
    manifest = write_manifest(tmp_path / "m.csv", rows)
    options = {"path_column": "file", "label_column": "y", "split_column": "split"}
    with pytest.raises(DataError, match=r"patient 'same' has images in both the train and the val split"):
        _manifest(manifest, patient_column="pid", **options)
    splits = _manifest(manifest, **options)  # without patient ids the given split is kept as it is
    assert splits.info["rows"] == {"train": 4, "val": 2, "test": 2}


def test_manifest_missing_file_and_missing_image(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"manifest '.*absent\.csv' does not exist"):
        _manifest(tmp_path / "absent.csv")
    manifest = _patients_manifest(tmp_path, patients=12, per_patient=2)
    Path(tmp_path / "images" / "p4_1.png").unlink()
    with pytest.raises(DataError, match=r"image '.*p4_1\.png' \(manifest '.*manifest\.csv' line 11\) does not exist"):
        _manifest(manifest)
    splits = _manifest(manifest, on_bad_image="skip", val_fraction=0.25, test_fraction=0.25)
    assert splits.info["skipped_images"] == 1 and sum(splits.info["rows"].values()) == 23


def test_manifest_label_outside_declared_classes_and_missing_column(tmp_path: Path) -> None:
    manifest = _patients_manifest(tmp_path, patients=6, per_patient=1)
    with pytest.raises(
        DataError, match=r"line 3\): label 'benign' is not a declared class; declared classes: malignant, normal"
    ):
        _manifest(manifest, class_names=["malignant", "normal"])
    with pytest.raises(DataError, match=r"has no column 'patient_id'; its columns: path, label, patient"):
        _manifest(manifest, patient_column="patient_id")
    with pytest.raises(ConfigError, match="for task multilabel use image_npz"):
        _manifest(manifest, task="multilabel")


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda data: data[: len(data) // 2], "truncated|cannot be decoded"),
        (lambda data: b"\x89PNG garbage", "cannot be decoded"),
    ],
    ids=["truncated", "corrupt"],
)
def test_damaged_files_are_named(tmp_path: Path, damage: object, reason: str) -> None:
    root = write_tree(tmp_path / "tree", TREE)
    victim = root / "val" / "sick" / "1.png"
    victim.write_bytes(damage(victim.read_bytes()))  # type: ignore[operator]
    with pytest.raises(DataError, match=rf"image '.*val/sick/1\.png' ({reason})") as caught:
        _folder(root)
    assert "\n" not in str(caught.value)
    assert _folder(root, on_bad_image="skip").info["skipped_images"] == 1


# --- options and caching -----------------------------------------------------------------------------


def test_option_rules(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="val_fraction \\+ test_fraction < 1"):
        FolderOptions(root=tmp_path, val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValidationError, match="std must be one positive number"):
        NpzOptions(path=tmp_path, std=[0.2, 0.0])
    with pytest.raises(ValidationError, match="extra"):
        NpzOptions(path=tmp_path, imagesize=32)
    with pytest.raises(ConfigError, match="mean has 2 values, but the images have 1 channel"):
        _npz(write_npz(tmp_path / "d.npz"), mean=[0.5, 0.5])


def test_decoding_happens_once_per_process_and_once_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_tree(tmp_path / "tree", TREE)
    calls = []
    real = assemble.decode_files

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(assemble, "decode_files", counting)
    first = _folder(root, disk_cache=True)
    assert _folder(root, disk_cache=True) is first and len(calls) == 1
    assert len(list(cache_dir().glob("*.npz"))) == 1
    clear_memory_cache()  # as a fresh worker process starts
    again = _folder(root, disk_cache=True)
    assert len(calls) == 1 and again.fingerprint == first.fingerprint
    np.testing.assert_array_equal(again.train.inputs, first.train.inputs)
    assert again.info == first.info
    write_png(root / "train" / "sick" / "new.png", 1, np.random.default_rng(5))
    assert len(_folder(root, disk_cache=True).train) == 21 and len(calls) == 2  # a changed folder is decoded again


def test_sixteen_bit_scans_keep_their_depth(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "tree", TREE)
    ramp = (np.arange(16 * 16, dtype=np.uint16).reshape(16, 16) * 257).astype(np.uint16)  # 0 .. 65535
    Image.fromarray(ramp).save(root / "train" / "sick" / "wide.png")
    splits = _folder(root, channels=3, mean=0.0, std=1.0)
    wide = splits.train.inputs[-1]  # listed last: train/sick/wide.png
    assert wide.shape == (3, 16, 16)
    np.testing.assert_allclose(wide[0], ramp / 65535.0, atol=1e-6)  # every 16-bit level kept, scaled by 1/65535
    np.testing.assert_array_equal(wide[0], wide[2])
