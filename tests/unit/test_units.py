"""dockyard.units against the Go code it mirrors: go-units' sizes and
HumanDuration, time.Duration's String and ParseDuration (cases from Go's
own tests and from docker's output)."""

from __future__ import annotations

import pytest

from dockyard import units
from dockyard.units import HOUR, MICROSECOND, MILLISECOND, MINUTE, SECOND


def test_human_size_precision() -> None:
    # docker images / ps -s / history print 3 significant digits, HumanSize 4.
    assert units.human_size(1982997, 3) == "1.98MB"
    assert units.human_size(1982997) == "1.983MB"
    assert units.human_size(0, 3) == "0B" and units.human_size(999) == "999B"
    assert units.human_size(1000) == "1kB" and units.human_size(1024) == "1.024kB"
    assert units.human_size(999_500, 3) == "1e+03kB"  # Go's %.3g, as docker shows it
    assert units.human_size(5 * 10**24) == "5YB" and units.human_size(5 * 10**27) == "5000YB"


def test_bytes_size() -> None:
    assert units.bytes_size(0) == "0B"
    assert units.bytes_size(1536 * 1024) == "1.5MiB"
    assert units.bytes_size(7.5 * 2**30) == "7.5GiB"


def test_size_parsers() -> None:
    assert units.ram_in_bytes("512m") == 512 << 20 and units.ram_in_bytes("1.5GiB") == 3 << 29
    assert units.ram_in_bytes("1024") == 1024 and units.ram_in_bytes("4 kb") == 4096
    assert units.from_human_size("1k") == 1000 and units.from_human_size("2MB") == 2_000_000
    for bad in ("", "m", "1q", "-1", ".5m", "1 2"):
        with pytest.raises(ValueError, match="invalid size"):
            units.ram_in_bytes(bad)


@pytest.mark.parametrize("seconds,text", [
    (0.5, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute"),
    (119, "About a minute"), (120, "2 minutes"), (3599, "59 minutes"), (3600, "About an hour"),
    (5399, "About an hour"), (5400, "2 hours"), (47 * 3600, "47 hours"), (48 * 3600, "2 days"),
    (14 * 86400, "2 weeks"), (60 * 86400, "2 months"), (730 * 86400, "2 years"),
    (3 * 365 * 86400 - 1, "2 years"),
])
def test_human_duration(seconds: float, text: str) -> None:
    assert units.human_duration(seconds) == text


@pytest.mark.parametrize("text,ns", [
    ("0s", 0), ("1ns", 1), ("1.1µs", 1100), ("2.2ms", 2200 * MICROSECOND), ("3.3s", 3300 * MILLISECOND),
    ("4m5s", 4 * MINUTE + 5 * SECOND), ("4m5.001s", 4 * MINUTE + 5001 * MILLISECOND),
    ("5h6m7.001s", 5 * HOUR + 6 * MINUTE + 7001 * MILLISECOND), ("8m0.000000001s", 8 * MINUTE + 1),
    ("1h0m0s", HOUR), ("-1.5s", -1500 * MILLISECOND),
    ("2562047h47m16.854775807s", (1 << 63) - 1), ("-2562047h47m16.854775808s", -(1 << 63)),
])
def test_go_duration_string_and_parse(text: str, ns: int) -> None:
    assert units.go_duration(ns) == text
    assert units.parse_go_duration(text) == ns


def test_parse_go_duration_forms_and_errors() -> None:
    assert units.parse_go_duration("1.5h") == 90 * MINUTE
    assert units.parse_go_duration(".5s") == 500 * MILLISECOND and units.parse_go_duration("+5s") == 5 * SECOND
    assert units.parse_go_duration("1h1m1s") == HOUR + MINUTE + SECOND
    assert units.parse_go_duration("0") == 0 and units.parse_go_duration("-0") == 0
    assert units.parse_go_duration("1us") == units.parse_go_duration("1μs") == MICROSECOND
    for bad, message in [("", 'time: invalid duration ""'), ("3", 'time: missing unit in duration "3"'),
                         ("3x", 'time: unknown unit "x" in duration "3x"'), (".s", 'time: invalid duration ".s"'),
                         ("1s1", 'time: missing unit in duration "1s1"'), ("s", 'time: invalid duration "s"'),
                         ("9223372036854775808ns", 'time: invalid duration "9223372036854775808ns"')]:
        with pytest.raises(ValueError) as e:
            units.parse_go_duration(bad)
        assert str(e.value) == message


def test_parse_ulimit() -> None:
    assert units.parse_ulimit("nofile=1024:2048") == {"Name": "nofile", "Soft": 1024, "Hard": 2048}
    assert units.parse_ulimit("nproc=100") == {"Name": "nproc", "Soft": 100, "Hard": 100}
    assert units.parse_ulimit("core=-1") == {"Name": "core", "Soft": -1, "Hard": -1}
    assert units.parse_ulimit("memlock=5:-1") == {"Name": "memlock", "Soft": 5, "Hard": -1}
    for bad, message in [("nofile", "invalid ulimit argument: nofile"), ("as=1", "invalid ulimit type: as"),
                         ("nofile=1:2:3", "too many limit value arguments - 1:2:3, can only have up to two, "
                                          "`soft[:hard]`"),
                         ("nofile=x:y", 'strconv.ParseInt: parsing "y": invalid syntax'),
                         ("nofile=10:5", "ulimit soft limit must be less than or equal to hard limit: 10 > 5")]:
        with pytest.raises(ValueError) as e:
            units.parse_ulimit(bad)
        assert str(e.value) == message


def test_detach_keys_as_moby_term_reads_them() -> None:
    from dockyard.apitypes import parse_detach_keys
    assert parse_detach_keys("ctrl-p,ctrl-q") == b"\x10\x11"
    assert parse_detach_keys("ctrl-P,a,ctrl-@,ctrl-_") == b"\x10a\x00\x1f"
    for bad in ("ctrl-1", "ab", "ctrl-", ""):
        with pytest.raises(ValueError, match="Unknown character"):
            parse_detach_keys(bad)
