"""docker's JSON message stream rendering: bars on a terminal, lines otherwise."""

from __future__ import annotations

import io

import pytest

from dockyard.cli.progress import StreamError, display_stream, progress_text

PULL = [
    {"status": "Pulling from library/busybox", "id": "latest"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "aaa"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "bbb"},
    {"status": "Downloading", "progressDetail": {"current": 500000, "total": 1000000}, "id": "aaa"},
    {"status": "Download complete", "progressDetail": {}, "id": "aaa"},
    {"status": "Pull complete", "progressDetail": {}, "id": "aaa"},
    {"status": "Pull complete", "progressDetail": {}, "id": "bbb"},
    {"status": "Digest: sha256:abc"},
    {"status": "Status: Downloaded newer image for busybox:latest"},
]


def test_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    display_stream(iter(PULL), out, terminal=False)
    assert out.getvalue() == ("latest: Pulling from library/busybox\n"
                              "aaa: Pulling fs layer\n"
                              "bbb: Pulling fs layer\n"
                              "aaa: Download complete\n"
                              "aaa: Pull complete\n"
                              "bbb: Pull complete\n"
                              "Digest: sha256:abc\n"
                              "Status: Downloaded newer image for busybox:latest\n")


def test_terminal_rewrites_each_layer_line_in_place() -> None:
    out = io.StringIO()
    display_stream(iter(PULL), out, terminal=True)
    text = out.getvalue()
    # two layer lines made, then "aaa" updated two lines up and the cursor put back
    assert text.count("\n") >= 4
    assert "\x1b[2A\x1b[2K\raaa: Downloading " in text and "500kB/1MB" in text
    assert "\x1b[2A\x1b[2K\raaa: Pull complete \r\x1b[2B" in text
    assert "\x1b[1A\x1b[2K\rbbb: Pull complete \r\x1b[1B" in text
    assert text.endswith("Status: Downloaded newer image for busybox:latest\n")


def test_progress_bar_text() -> None:
    assert progress_text({"current": 5, "total": 10}, 200).startswith("[" + "=" * 25 + ">" + " " * 25 + "] ")
    assert progress_text({"current": 5, "total": 10}, 80) == "      5B/10B"
    assert progress_text({"current": 0, "total": 0}, 200) == ""
    assert progress_text({"current": 3, "total": 0, "units": "steps"}, 200) == "3 steps"


def test_errors_stop_the_display_and_aux_goes_to_the_callback() -> None:
    seen = []
    out = io.StringIO()
    with pytest.raises(StreamError) as e:
        display_stream(iter([{"stream": "Step 1/2 : FROM busybox\n"}, {"aux": {"ID": "sha256:1"}},
                             {"errorDetail": {"message": "boom"}, "error": "boom"}, {"stream": "never\n"}]),
                       out, terminal=False, aux=seen.append)
    assert e.value.message == "boom" and seen == [{"ID": "sha256:1"}]
    assert out.getvalue() == "Step 1/2 : FROM busybox\n"
