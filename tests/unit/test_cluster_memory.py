"""The embedded cluster's own cache is sized from the machine's memory, within bounds."""

from __future__ import annotations

import os

import pytest

from layers import cluster


@pytest.mark.parametrize("total_gb,expected", [(0.5, 256), (2, 512), (4, 1024), (23, 2048), (256, 2048)])
def test_shared_buffers_is_a_quarter_of_memory_between_256_mb_and_2_gb(monkeypatch, total_gb, expected):
    pages = int(total_gb * 1024 * 1024 * 1024 / 4096)
    monkeypatch.setattr(os, "sysconf", lambda name: {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": pages}[name])
    assert cluster.shared_buffers_mb() == expected


def test_shared_buffers_falls_back_when_memory_is_unknown(monkeypatch):
    def unknown(name):
        raise ValueError(name)

    monkeypatch.setattr(os, "sysconf", unknown)
    assert cluster.shared_buffers_mb() == 256
