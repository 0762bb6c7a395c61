"""``flux report`` on committed logs from our own engine, and on a run made here.

``tests/data/logs/dialogue.jsonl`` and ``dialogue-eager.jsonl`` were written by
``flux transcribe samples/dialogue.wav --jsonl ...`` (real time, local engine; the second with
``--eot-threshold 0.85 --eager-eot-threshold 0.5``). Expected delays are recomputed here from
the raw records, independently of the report code.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import srt
import webvtt
from helpers.cli import FLUX, env
from helpers.client_runs import TURNS, settings, tone
from helpers.scripted_server import Script, ScriptedServer
from matplotlib import image
from rich.console import Console

from flux_cli.audio import open_source
from flux_cli.client.shell import Session
from flux_cli.render.display import Display
from flux_cli.render.jsonl import JsonlLog
from flux_cli.render.live import LiveOutput, PanelInfo
from flux_cli.render.state import Turn
from flux_cli.render.summary import percentile
from flux_cli.report.log import LogError, read_log
from flux_cli.report.summary import compare, summarise, turn_rows
from flux_cli.transcribe.single import build_feed

pytestmark = pytest.mark.slow  # real models or processes: the full tier

LOGS = Path(__file__).resolve().parent / "data" / "logs"
LOG = LOGS / "dialogue.jsonl"
EAGER = LOGS / "dialogue-eager.jsonl"
FIRST = "Thank you for calling the dental office. How can I help you today?"


def report(*args: str, **kw: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FLUX, "report", *args], capture_output=True, text=True, env=env(**kw), timeout=120
    )


def raw_delays(path: Path) -> list[float]:
    """received_at minus audio_window_end_sent_at of every EndOfTurn that has both."""
    out = []
    for line in path.read_text().splitlines():
        r = json.loads(line)
        if r.get("event") == "EndOfTurn" and "audio_window_end_sent_at" in r:
            out.append(r["received_at"] - r["audio_window_end_sent_at"])
    return out


def test_percentile_interpolates_like_numpy() -> None:
    values = [0.3, 0.1, 0.9, 0.4]
    for q in (0, 50, 90, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert percentile([], 50) is None


def test_summary_of_the_committed_log() -> None:
    run_log = read_log(LOG.read_text().splitlines(), "dialogue.jsonl")
    s = summarise(run_log)
    assert (s.turns, s.unfinished, s.words) == (5, 0, 62)
    assert s.triggers == {"model": 5}
    assert s.audio_s == pytest.approx(30.42)
    assert s.eot_threshold == 0.7 and s.eager_eot_threshold is None
    assert (s.eager_ends, s.resumed) == (0, 0)
    delays = raw_delays(LOG)
    assert s.delays_measured == len(delays) >= 4
    assert s.delay_p50_s == pytest.approx(float(np.percentile(delays, 50)), abs=1e-6)
    assert s.delay_p90_s == pytest.approx(float(np.percentile(delays, 90)), abs=1e-6)
    assert s.delay_max_s == pytest.approx(max(delays), abs=1e-6)
    rows = turn_rows(run_log)
    assert rows[0].transcript == FIRST and rows[0].trigger == "model"
    assert all(0.7 <= r.confidence <= 1 for r in rows)
    assert any("word times before their audio_window_start" in n for n in s.notes)


def test_eager_log_counts_eager_ends_and_resumes() -> None:
    s = summarise(read_log(EAGER.read_text().splitlines(), "eager"))
    assert (s.turns, s.eager_ends, s.resumed) == (5, 6, 1)
    assert (s.eot_threshold, s.eager_eot_threshold) == (0.85, 0.5)


def test_report_delays_are_the_live_panel_delays(tmp_path: Path) -> None:
    """The panel shows each turn's delay; the report recomputes it from the log alone."""
    tone(tmp_path / "a.wav", 2.0)
    stream = io.StringIO()
    console = Console(file=io.StringIO(), width=120, record=True)
    info = PanelInfo("test", "a.wav", 2.0, 0.7, None)
    display = Display([LiveOutput(console, info)], JsonlLog(stream))
    source = open_source(str(tmp_path / "a.wav"))
    feed = build_feed(source, settings(tmp_path / "a.wav", "ws://unused", speed=1.0))
    with ScriptedServer(Script(steps=TURNS)) as srv:
        outcome = Session(srv.url, feed, display).run()
    display.close()
    source.close()
    assert outcome.close_code in (None, 1000, 1005)
    panel = [t.server_delay_s for t in display.state.turns if t.server_delay_s is not None]
    rows = turn_rows(read_log(stream.getvalue().splitlines(), "log"))
    from_log = [r.delay_s for r in rows if r.delay_s is not None]
    assert panel and from_log == pytest.approx(panel, abs=2e-6)
    shown = [int(ms) for ms in re.findall(r"\+(\d+) ms", console.export_text())]
    assert len(shown) == len(panel)
    assert all(abs(ms - d * 1000) <= 0.5 + 1e-3 for ms, d in zip(shown, from_log, strict=True))


def turn_at(index: int, start: float, end: float, text: str = "x") -> Turn:
    return Turn(index, start, end, text, finished=True)


def test_compare_finds_splits_merges_moves_and_missing_turns() -> None:
    a = [turn_at(0, 0, 4), turn_at(1, 5, 9), turn_at(2, 10, 11), turn_at(3, 12, 13),
         turn_at(4, 14, 15, "hello there"), turn_at(5, 20, 21)]
    b = [turn_at(0, 0, 2), turn_at(1, 2.5, 4), turn_at(2, 5, 9.1), turn_at(3, 10, 13),
         turn_at(4, 14, 15, "hello, bear"), turn_at(5, 16, 17), turn_at(6, 20, 21.5)]
    kinds = [d.kind for d in compare(a, b)]
    assert kinds == ["split", "merged", "text differs", "only in B", "end moved"]
    assert compare(a, a) == []


def test_cli_text_report_piped_is_plain() -> None:
    result = report(str(LOG))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "\x1b[" not in out
    assert "audio 30.4 s · 5 turns · 62 words" in out
    assert "EndOfTurn triggers: model 5 · eager ends 0 (0 resumed)" in out
    delays = raw_delays(LOG)
    p50, p90 = (np.percentile(delays, q) * 1000 for q in (50, 90))
    assert f"p50 {p50:.0f} ms · p90 {p90:.0f} ms · max {max(delays) * 1000:.0f} ms" in out
    table = out.split("\n\n")[1].splitlines()
    assert table[0].split() == ["#", "start", "end", "dur", "words", "trigger", "conf", "delay",
                                "transcript"]
    assert table[1].startswith("0  00:00.77  00:04.32  3.55") and table[1].endswith(FIRST)
    assert len(table) == 6


def test_cli_json_and_captions_formats() -> None:
    data = json.loads(report(str(LOG), "--format", "json").stdout)
    assert data["summary"]["turns"] == 5 and len(data["turns"]) == 5
    assert data["turns"][0]["transcript"] == FIRST
    subs = list(srt.parse(report(str(LOG), "--format", "srt").stdout))
    assert subs[0].content.replace("\n", " ") == FIRST
    starts = [s.start for s in subs]
    assert starts == sorted(starts) and len(subs) >= 5
    cues = webvtt.from_string(report(str(LOG), "--format", "vtt").stdout).captions
    assert [c.text for c in cues] == [s.content for s in subs]


def test_cli_compare_lists_the_turns_that_differ() -> None:
    out = report(str(LOG), "--compare", str(EAGER)).stdout
    assert "compared: A = " in out and "(eot 0.85, eager 0.5)" in out
    assert out.count("end moved:") == 5  # every turn ends later at eot 0.85


def check_png(path: Path, min_size: tuple[int, int]) -> None:
    pixels = image.imread(str(path))
    height, width = pixels.shape[:2]
    assert width >= min_size[0] and height >= min_size[1]
    rgb = pixels[:, :, :3]
    ink = (rgb.min(axis=2) < 0.9).mean()  # anything clearly darker than white
    assert 0.03 < ink < 0.6, ink
    colours = {tuple(p) for p in (rgb[::7, ::7].reshape(-1, 3) * 20).round().astype(int)}
    assert len(colours) > 20  # lines, shades, markers and text, not one flat colour


def test_cli_plot_writes_a_readable_png(tmp_path: Path) -> None:
    result = report(str(LOG), "--plot", str(tmp_path / "run.png"))
    assert result.returncode == 0, result.stderr
    assert result.stderr == f"flux: plot written to {tmp_path / 'run.png'}\n"
    check_png(tmp_path / "run.png", (1200, 500))
    result = report(str(LOG), "--compare", str(EAGER), "--plot", str(tmp_path / "both.png"))
    assert result.returncode == 0, result.stderr
    check_png(tmp_path / "both.png", (1200, 580))


def test_plot_window_draws_a_stretch_of_the_run(tmp_path: Path) -> None:
    result = report(str(LOG), "--plot", str(tmp_path / "w.png"), "--window", "5-13")
    assert result.returncode == 0, result.stderr
    check_png(tmp_path / "w.png", (1200, 500))


def test_plot_without_matplotlib_is_a_one_line_hint(tmp_path: Path) -> None:
    fake = tmp_path / "nomatplotlib" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named matplotlib')\n")
    path = f"{fake.parent}:{env().get('PYTHONPATH', '')}"
    result = report(str(LOG), "--plot", str(tmp_path / "x.png"), PYTHONPATH=path)
    assert result.returncode == 6
    assert result.stderr == (
        "flux: error: --plot needs matplotlib: pip install 'flux-cli[report]'\n"
    )
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["missing.jsonl"], 3, "missing.jsonl: no such file"),
        (["{notes}"], 3, "no Flux server messages"),
        (["{log}", "--format", "csv"], 2, "--format must be one of text, json, srt, vtt"),
        (["{log}", "--plot", "x.jpg"], 2, "--plot writes a PNG"),
        (["{log}", "--plot", "x.png", "--window", "9-3"], 2, "START must be 0 or more"),
        (["{log}", "--window", "1-2"], 2, "give --plot FILE.png too"),
    ],
)
def test_cli_bad_input_is_one_line(
    tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("just some text\n")
    result = report(*(a.format(notes=notes, log=LOG) for a in args))
    assert result.returncode == code
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("flux: error: ") and message in lines[0]


def test_a_log_cut_mid_line_still_reads() -> None:
    text = LOG.read_text()
    cut = text[: len(text) * 2 // 3]
    run_log = read_log(io.StringIO(cut), "cut")
    assert run_log.skipped_lines == 1
    assert summarise(run_log).turns >= 2


def test_a_multichannel_log_reports_one_channel_at_a_time() -> None:
    lines = LOG.read_text().splitlines()
    both = [json.dumps({**json.loads(x), "channel": ch}) for x in lines for ch in ("a", "b")]
    both.insert(3, json.dumps({"type": "ClientReconnect", "attempt": 1, "channel": "a"}))
    with pytest.raises(LogError, match="holds channels a, b: pick one with --channel"):
        read_log(both, "two")
    one = read_log(both, "two", channel="a")
    s = summarise(one)
    assert (s.turns, s.words) == (5, 62)
    assert "the client reconnected 1 time(s) during the run" in s.notes
    with pytest.raises(LogError, match="no channel 'c'"):
        read_log(both, "two", channel="c")


def test_a_multichannel_log_is_reported_on_one_timeline_by_default(tmp_path: Path) -> None:
    lines = LOG.read_text().splitlines()
    two = tmp_path / "two.jsonl"
    two.write_text("\n".join(json.dumps({**json.loads(x), "channel": ch})
                             for x in lines for ch in ("caller", "agent")) + "\n")
    text = report(str(two))
    assert text.returncode == 0, text.stderr
    out = text.stdout.splitlines()
    assert out[0] == "channels: agent, caller"
    turns = [line for line in out if line.startswith("[")]
    assert len(turns) == 10
    assert [line.split()[1] for line in turns[:2]] == ["agent", "caller"]  # same start: by name
    assert turns[0].endswith(FIRST) and turns[1].endswith(FIRST)
    as_json = json.loads(report(str(two), "--format", "json").stdout)
    assert set(as_json["channels"]) == {"agent", "caller"}
    starts = [t["start"] for t in as_json["turns"]]
    assert len(starts) == 10 and starts == sorted(starts)
    vtt = report(str(two), "--format", "vtt").stdout
    assert "<v agent>" in vtt and "<v caller>" in vtt
    plot = report(str(two), "--plot", str(tmp_path / "p.png"))
    assert plot.returncode == 2 and "pick it with --channel" in plot.stderr
    one = report(str(two), "--channel", "agent")
    assert one.returncode == 0 and "channels:" not in one.stdout
