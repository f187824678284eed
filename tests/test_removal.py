"""Removing last night's outputs (compliance/removal.py): everything inside goes, and
nothing outside does, even through a symbolic link an operator left in the folder."""

from __future__ import annotations

import os
from pathlib import Path

from compliance.removal import remove_folder


def _fill(root: Path) -> None:
    (root / "deviations").mkdir(parents=True)
    for i in range(300):
        (root / "deviations" / f"K{i:04d}__soc.md").write_text("utkast")
    (root / "units" / "deep" / "deeper").mkdir(parents=True)
    (root / "units" / "deep" / "deeper" / "x.xlsx").write_bytes(b"x")
    (root / "manifest.json").write_text("{}")


def test_a_folder_of_outputs_is_removed_whole(tmp_path):
    out = tmp_path / ".out.old-123"
    _fill(out)
    remove_folder(out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_links_inside_are_removed_not_followed(tmp_path):
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "register.xlsx").write_text("enhetsregister")
    out = tmp_path / "out"
    _fill(out)
    os.symlink(keep, out / "link-to-folder")
    os.symlink(keep / "register.xlsx", out / "deviations" / "link-to-file")
    os.symlink(tmp_path / "gone", out / "dangling")
    remove_folder(out)
    assert not os.path.lexists(out)
    assert (keep / "register.xlsx").read_text() == "enhetsregister"


def test_a_missing_folder_or_a_link_to_one_is_left_alone(tmp_path):
    remove_folder(tmp_path / "never-made")
    keep = tmp_path / "keep"
    _fill(keep)
    link = tmp_path / "link"
    os.symlink(keep, link)
    remove_folder(link)                    # as shutil.rmtree: a link is not a folder to empty
    assert os.path.islink(link)
    assert (keep / "manifest.json").exists() and (keep / "deviations" / "K0000__soc.md").exists()


def test_what_cannot_be_removed_is_left_and_the_rest_goes(tmp_path):
    out = tmp_path / "out"
    _fill(out)
    locked = out / "units" / "deep"
    locked.chmod(0o500)                    # its entries cannot be unlinked
    try:
        remove_folder(out)
        if os.geteuid() != 0:
            assert (locked / "deeper" / "x.xlsx").exists()
        assert not (out / "deviations").exists()
        assert not (out / "manifest.json").exists()
    finally:
        if locked.exists():
            locked.chmod(0o700)
