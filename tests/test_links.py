"""The link-technology table: every family present, every source in the bibliography, rates as
published, and every data rate equal to lanes x signalling rate x line-code efficiency."""

import datetime
import math
import re

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
    ("PCIe 3.0 x16", 15.75), ("PCIe 4.0 x16", 31.5), ("PCIe 5.0 x16", 63.0), ("PCIe 6.0 x16", 128),
    ("NVLink 1", 20), ("NVLink 2", 25), ("NVLink 3", 25), ("NVLink 4", 25), ("NVLink 5", 50),
    ("InfiniBand EDR 4x", 12.5), ("InfiniBand NDR 4x", 50), ("Ethernet 400G", 50),
    # IBTA: 4x data rates 8, 16, 32, 54.5, 100, 200, 400, 800 Gb/s (SDR .. XDR)
    ("InfiniBand SDR 4x", 1), ("InfiniBand DDR 4x", 2), ("InfiniBand QDR 4x", 4),
    ("InfiniBand FDR 4x", 54.545 / 8), ("InfiniBand HDR 4x", 25), ("InfiniBand XDR 4x", 100),
    ("QPI 9.6 GT/s", 19.2)])
def test_link_rates(name, per_dir):
    # Data rates after the line code. PCI-SIG: 3.0 x16 is "15.75 GB/s" per direction after
    # 128b/130b (16 GB/s raw), 6.0 has no line code; NVLink per link: P100/V100/A100/H100/B200
    # whitepapers; EDR 100 Gb/s, NDR 400 Gb/s; Intel QPI: 2 bytes per transfer and direction.
    assert links.link_GBps_per_dir(name) == pytest.approx(per_dir, rel=1e-3)


def code_efficiency(encoding):
    """Payload fraction of a line code written like "128b/130b", "256b/257b + RS(544,514)":
    n/m for every "nb/mb", k/n for every Reed-Solomon RS(n,k); None when nothing is recognised."""
    parts = [p.strip() for p in encoding.split("+")]
    eff = 1.0
    for part in parts:
        if m := re.fullmatch(r"(\d+)b/(\d+)b", part):
            eff *= int(m[1]) / int(m[2])
        elif m := re.fullmatch(r"RS\((\d+),(\d+)\)", part):
            eff *= int(m[2]) / int(m[1])
        else:
            return None
    return eff


def test_code_efficiency_reader():
    assert code_efficiency("128b/130b") == 128 / 130
    assert code_efficiency("256b/257b + RS(544,514)") == pytest.approx(256 / 257 * 514 / 544)
    assert code_efficiency("") is None and code_efficiency("PAM4") is None


def test_data_rate_is_lanes_times_signalling_rate_times_code_efficiency():
    df = links.load_links()
    checked = 0
    for _, row in df.iterrows():
        raw = row["ports"] * row["lanes"] * row["signal_GTps_per_lane"] / 8     # GB/s, one way
        eff = code_efficiency(row["encoding"])
        if eff is not None and not math.isnan(raw):
            assert row["GBps_per_dir"] == pytest.approx(raw * eff, rel=1e-4), row["name"]
            checked += 1
        elif not math.isnan(raw):
            # no line code given (NVLink rows): the data rate cannot exceed the signalling rate
            assert row["GBps_per_dir"] <= raw * (1 + 1e-9), row["name"]
    # every PCIe generation, EDR, both Ethernet rows and QPI carry a checkable line code
    assert checked >= 8
    assert set(df.loc[df["encoding"] != "", "family"]) >= {"PCIe", "InfiniBand", "Ethernet", "QPI"}


def test_nvlink_rates_are_the_whitepapers_lane_arithmetic():
    """NVIDIA's whitepapers give each link generation as lanes x lane rate with no line-code
    share taken out: P100 8 lanes x 20 Gb/s = 20 GB/s, V100 8 x 25 Gb/s = 25 GB/s, A100 4 x 50 Gb/s
    = 25 GB/s, H100 2 x 100 Gb/s = 25 GB/s per direction; a switch chip is its ports times that
    (NVSwitch: 18, 36 and 64 ports)."""
    df = links.load_links().set_index("name")
    published = {"NVLink 1": (1, 8, 20), "NVLink 2": (1, 8, 25), "NVLink 3": (1, 4, 50),
                 "NVLink 4": (1, 2, 100), "NVSwitch 1": (18, 8, 25), "NVSwitch 2": (36, 4, 50),
                 "NVSwitch 3": (64, 2, 100)}
    for name, (ports, lanes, gbps) in published.items():
        row = df.loc[name]
        assert (row["ports"], row["lanes"], row["signal_GTps_per_lane"]) == (ports, lanes, gbps)
        assert row["GBps_per_dir"] == pytest.approx(ports * lanes * gbps / 8, rel=1e-12), name


def test_years_and_ports(root):
    """Each NVLink and NVSwitch generation came out the year its own document (the row's source:
    the P100, V100, A100, H100 and GB200 whitepapers, Ishii's NVSwitch talk) was published; no
    row is dated after today. Only a switch chip is several ports: every other row is one link
    or one port (the module docstring's ``ports``; NVSwitch 4, the GB200's switch, has 72)."""
    df = links.load_links()
    bib = (root / "chapters" / "references.bib").read_text()
    for _, row in df[df["family"].isin(["NVLink", "NVSwitch"])].iterrows():
        entry = bib[bib.index(f"{{{row['source']},"):]
        year = int(re.search(r"year\s*=\s*\{?(\d{4})", entry)[1])
        assert row["year"] == year, row["name"]
    assert (df["year"] <= datetime.date.today().year).all()
    switches = df["family"] == "NVSwitch"
    assert (df.loc[~switches, "ports"] == 1).all()
    assert df.set_index("name").loc["NVSwitch 4", "ports"] == 72


def test_pcie3_x16_is_15_75_not_16():
    # issue 11 item 25: 8 GT/s x 16 lanes x 128/130 / 8 bits per byte
    expected = 8 * 16 * 128 / 130 / 8
    assert links.link_GBps_per_dir("PCIe 3.0 x16") == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("switch, port_link", [
    ("NVSwitch 1", "NVLink 2"), ("NVSwitch 2", "NVLink 3"),
    ("NVSwitch 3", "NVLink 4"), ("NVSwitch 4", "NVLink 5")])
def test_switch_chip_is_its_ports_times_one_link(switch, port_link):
    # 18, 36, 64 and 72 ports (Hot Chips 2018; A100, H100 whitepapers; GB200 NVL72 datasheet)
    ports = {"NVSwitch 1": 18, "NVSwitch 2": 36, "NVSwitch 3": 64, "NVSwitch 4": 72}[switch]
    assert links.link(switch)["ports"] == ports
    assert links.link_GBps_per_dir(switch) == ports * links.link_GBps_per_dir(port_link)


def test_bad_link_name():
    with pytest.raises(ValueError, match="name"):
        links.link("NVLink 9")
    with pytest.raises(TypeError, match="name"):
        links.link_GBps_per_dir(4)


def test_every_infiniband_generation_at_4x_from_its_lane_rate_and_code():
    # IBTA lane signalling rates (Gb/s) and line codes; data rate = 4 x rate x code efficiency / 8
    lanes = {"SDR": (2.5, 8 / 10), "DDR": (5, 8 / 10), "QDR": (10, 8 / 10),
             "FDR": (14.0625, 64 / 66), "EDR": (25.78125, 64 / 66),
             "HDR": (53.125, 256 / 257 * 514 / 544), "NDR": (106.25, 256 / 257 * 514 / 544),
             "XDR": (212.5, 256 / 257 * 514 / 544)}
    df = links.load_links()
    ib = df[df["family"] == "InfiniBand"].set_index("generation")
    assert list(ib.sort_values("year").index) == list(lanes)
    for gen, (rate, eff) in lanes.items():
        row = ib.loc[gen]
        assert row["lanes"] == 4 and row["signal_GTps_per_lane"] == rate, gen
        assert row["GBps_per_dir"] == pytest.approx(4 * rate * eff / 8, rel=1e-4), gen
