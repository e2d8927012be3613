"""Image sets: the bundled digits and the position-dependent mark task."""

import numpy as np
import pytest
import torch

from lessons_lib import data
from lessons_lib.data import ImageSet, MarkPositionTask, load_digits_split
from lessons_lib.patching import patchify


def test_digits_split_is_seeded_disjoint_and_scaled():
    train, validation, test = load_digits_split(test_fraction=0.2, seed=0)
    assert train.images.shape[1:] == (1, 8, 8)
    assert len(train) + len(validation) + len(test) == 1797
    assert len(test) == round(1797 * 0.2) and len(validation) == round(1797 * 0.1)
    assert 0.0 <= float(train.images.min()) and float(train.images.max()) == 1.0
    assert set(train.labels.tolist()) == set(range(10)) and train.labels.dtype == torch.long
    again, _, _ = load_digits_split(seed=0)
    assert torch.equal(again.images, train.images)
    other, _, _ = load_digits_split(seed=1)
    assert not torch.equal(other.labels, train.labels)
    flat_train = {tuple(row) for row in train.images.flatten(1).tolist()}
    for held_out in (validation, test):
        duplicates = sum(tuple(row) in flat_train for row in held_out.images.flatten(1).tolist())
        assert duplicates < 5  # only the few images that occur twice in the set itself


def test_batches_are_seeded_and_shaped():
    train, _, _ = load_digits_split()
    first = next(train.batches(16, torch.Generator().manual_seed(4)))
    again = next(train.batches(16, torch.Generator().manual_seed(4)))
    assert first[0].shape == (16, 1, 8, 8) and first[1].shape == (16,)
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])


def test_mark_task_labels_follow_the_marks_quadrant():
    task = MarkPositionTask(image_size=8, patch_size=2, noise=0.3)
    data = task.sample(200, torch.Generator().manual_seed(0))
    assert data.images.shape == (200, 1, 8, 8) and set(data.labels.tolist()) == {0, 1, 2, 3}
    patches = patchify(data.images, 2)  # (200, 16, 4)
    mark_index = (patches == 1.0).all(dim=-1).float().argmax(dim=1)  # the one all-ones patch
    rows, cols = mark_index // 4, mark_index % 4
    assert torch.equal(data.labels, 2 * (rows >= 2).long() + (cols >= 2).long())
    assert float(patches.max(dim=-1).values.sort(dim=1).values[:, -2].max()) <= 0.3


def test_mark_task_is_the_same_bag_of_patches_in_every_quadrant():
    """Shuffling the patches moves the mark to any quadrant: only positions tell them apart."""
    data = MarkPositionTask().sample(64, torch.Generator().manual_seed(1))
    patches = patchify(data.images, 2)
    marks = (patches == 1.0).all(dim=-1)  # (64, 16)
    assert torch.equal(marks.sum(dim=1), torch.ones(64, dtype=torch.long))


def test_bigger_marks_are_rings():
    task = MarkPositionTask(image_size=12, patch_size=3, noise=0.0)
    assert task.mark().tolist() == [[1, 1, 1], [1, 0, 1], [1, 1, 1]]
    assert task.grid == 4


def test_bad_input():
    with pytest.raises(ValueError, match=r"even number of patches"):
        MarkPositionTask(image_size=6, patch_size=2)
    with pytest.raises(ValueError, match=r"noise must lie in \[0, 1\), got 1.5"):
        MarkPositionTask(noise=1.5)
    with pytest.raises(ValueError, match=r"test_fraction must lie strictly between 0 and 1"):
        load_digits_split(test_fraction=1.0)
    with pytest.raises(ValueError, match=r"test_fraction \+ validation_fraction must be below 1"):
        load_digits_split(test_fraction=0.5, validation_fraction=0.5)
    with pytest.raises(ValueError, match=r"an ImageSet needs images \(n, channels, H, W\)"):
        ImageSet(torch.zeros(3, 8, 8), torch.zeros(3, dtype=torch.long), ("a",))
    with pytest.raises(TypeError, match=r"batch_size must be an int"):
        next(load_digits_split()[0].batches(2.5, torch.Generator()))


def test_sample_photo_is_the_middle_square_resized_with_antialiasing():
    import torch.nn.functional as F
    from sklearn.datasets import load_sample_image

    from lessons_lib.data import load_sample_photo

    photo = load_sample_photo(224)
    assert photo.shape == (3, 224, 224) and photo.dtype == torch.float32
    assert 0.0 <= float(photo.min()) and float(photo.max()) <= 1.0
    raw = (
        torch.tensor(load_sample_image("china.jpg")).permute(2, 0, 1).float() / 255
    )  # (3, 427, 640)
    square = raw[:, :, 106:533]  # the central 427 columns
    assert torch.allclose(load_sample_photo(427), square)  # no resizing at full size
    expected = F.interpolate(square[None], size=(224, 224), mode="bilinear", antialias=True)[0]
    assert torch.allclose(photo, expected.clamp(0, 1))
    assert patchify(photo[None], 16).shape == (1, 196, 768)
    with pytest.raises(ValueError, match=r"name must be 'china.jpg' or 'flower.jpg', got 'x.png'"):
        load_sample_photo(name="x.png")
    with pytest.raises((TypeError, ValueError)):
        load_sample_photo(0)


@pytest.mark.parametrize("found", [True, False])
def test_the_bundled_files_read_as_scikit_learn_reads_them(monkeypatch, found):
    # Read from scikit-learn's folder without importing it, or (found=False, as if a release
    # moved the files) through scikit-learn's own loaders: the same arrays either way.
    from sklearn.datasets import load_digits, load_sample_image

    if not found:
        monkeypatch.setattr(data, "_sklearn_file", lambda *parts: None)
    images, labels = data._digits_arrays()
    digits = load_digits()
    assert np.array_equal(images, digits.images) and np.array_equal(labels, digits.target)
    for name in ("china.jpg", "flower.jpg"):
        photo = data._sample_image(name)
        assert photo.dtype == np.uint8 and np.array_equal(photo, load_sample_image(name))


def test_reading_the_digits_does_not_import_scikit_learn():
    import subprocess
    import sys

    code = (
        "import sys; from lessons_lib.data import load_digits_split, load_sample_photo; "
        "load_digits_split(); load_sample_photo(32); print('sklearn' in sys.modules)"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.stdout.split() == ["False"], completed.stderr


def test_without_scikit_learn_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setattr(data.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        load_digits_split()
