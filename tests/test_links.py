"""The link-technology table: every family present, every source in the bibliography, rates as
published."""

import numpy as np
import pytest

from aichip import links


def test_link_table_has_every_family_with_sources(root):
    df = links.load_links()
    assert set(df["family"]) >= {"PCIe", "NVLink", "NVSwitch", "InfiniBand", "Ethernet"}
    bib = (root / "chapters" / "references.bib").read_text()
    for key in set(df["source"]):
        assert f"{{{key}," in bib, f"source {key} missing from references.bib"
    assert np.allclose(df["GBps_bidirectional"], 2 * df["GBps_per_dir"])


@pytest.mark.parametrize("name, per_dir", [
    ("PCIe 3.0 x16", 16), ("PCIe 4.0 x16", 32), ("PCIe 5.0 x16", 64), ("PCIe 6.0 x16", 128),
    ("NVLink 1", 20), ("NVLink 2", 25), ("NVLink 3", 25), ("NVLink 4", 25), ("NVLink 5", 50),
    ("InfiniBand NDR 4x", 50)])
def test_link_rates(name, per_dir):
    # PCI-SIG x16 rates; NVLink per link: P100/V100/A100/H100/B200 whitepapers; NDR = 400 Gb/s
    assert links.link_GBps_per_dir(name) == per_dir


def test_bad_link_name():
    with pytest.raises(ValueError, match="name"):
        links.link("NVLink 9")
    with pytest.raises(TypeError, match="name"):
        links.link_GBps_per_dir(4)
