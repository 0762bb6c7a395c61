"""A file cut short streams what it holds, then says so (exit 3), never a silent exit 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from flux_cli.audio import open_source
from flux_cli.audio.truncation import ogg_is_cut, wav_shortfall
from flux_cli.errors import AudioInputError


def write(path: Path, fmt: str, subtype: str | None = None) -> None:
    t = np.arange(16000 * 3) / 16000
    sf.write(
        path,
        (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32),
        16000,
        format=fmt,
        subtype=subtype,
    )


def cut_in_half(path: Path) -> Path:
    data = path.read_bytes()
    out = path.with_name("cut_" + path.name)
    out.write_bytes(data[: len(data) // 2])
    return out


@pytest.mark.parametrize(
    ("name", "fmt", "subtype", "says"),
    [
        ("a.wav", "WAV", "PCM_16", "header declares"),
        ("a.ogg", "OGG", "OPUS", "without its last page"),
        ("a.mp3", "MP3", None, "MP3 stream is shorter"),
    ],
)
def test_a_cut_file_streams_what_it_holds_then_fails(
    tmp_path: Path, name: str, fmt: str, subtype: str | None, says: str
) -> None:
    write(tmp_path / name, fmt, subtype)
    whole = open_source(str(tmp_path / name))
    assert sum(len(b) for b in whole.blocks()) > 0  # the complete file: no complaint
    source = open_source(str(cut_in_half(tmp_path / name)))
    got = 0
    with pytest.raises(AudioInputError, match=says):
        for block in source.blocks():
            got += len(block)
    assert got > 16000 // 2


@pytest.mark.slow
def test_the_mp3_warning_of_libmpg123_does_not_reach_the_terminal(tmp_path: Path) -> None:
    write(tmp_path / "a.mp3", "MP3")
    cut = cut_in_half(tmp_path / "a.mp3")
    code = f"from flux_cli.audio import open_source; open_source({str(cut)!r})"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == ""


def test_wav_shortfall_reads_the_data_chunk_length() -> None:
    header = b"RIFF\0\0\0\0WAVE" + b"fmt " + (16).to_bytes(4, "little") + bytes(16)
    assert wav_shortfall(header + b"data" + (100).to_bytes(4, "little"), 44 + 60) == 40
    assert wav_shortfall(header + b"data" + (100).to_bytes(4, "little"), 44 + 100) is None
    assert wav_shortfall(header + b"data" + (0xFFFFFFFF).to_bytes(4, "little"), 50) is None


def test_an_ogg_tail_without_the_end_of_stream_page_is_cut() -> None:
    assert ogg_is_cut(b"OggS\0\x00" + bytes(20) + b"\x00", True)  # complete but not EOS
    assert not ogg_is_cut(b"OggS\0\x04" + bytes(20) + b"\x00", True)
    assert ogg_is_cut(b"OggS\0\x04" + bytes(20) + b"\x01\x10abc", True)  # body cut
