"""How a test wants its durable environment: clock mode, start time, frozen time, external sidecar.

Values come from, in order of precedence: the closest ``@pytest.mark.durabletask(...)`` marker, the ini
options (``durabletask_clock``, ``durabletask_start_time``, ``durabletask_freeze_time``) and the defaults.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

CLOCK_MODES = ("auto", "manual", "real")
DEFAULT_CLOCK = "auto"

MARKER_NAME = "durabletask"
MARKER_KEYWORDS = ("clock", "start_time", "freeze_time", "replay_audit")
MARKER_HELP = (
    "durabletask(clock='auto'|'manual'|'real', start_time=datetime|ISO-8601, freeze_time=bool, "
    "replay_audit=bool): configure the fake sidecar and virtual time used by the durable_* fixtures of this test, "
    "and whether its orchestrations are replayed after it passed"
)

INI_CLOCK = "durabletask_clock"
INI_START_TIME = "durabletask_start_time"
INI_FREEZE_TIME = "durabletask_freeze_time"
INI_REPLAY_AUDIT = "durabletask_replay_audit"
INI_REPLAY_AUDIT_REPEATS = "durabletask_replay_audit_repeats"
DEFAULT_REPLAY_AUDIT_REPEATS = 7
"""Replays per instance: a branch on a fair coin is caught with probability 1 - 0.5**7 > 0.99."""

OPTION_SIDECAR = "--durabletask-sidecar"
OPTION_SIDECAR_DEST = "durabletask_sidecar"


class DurableSettingsError(ValueError):
    """A marker, ini option or command-line option of the durabletask plugin has a bad value."""


@dataclass(frozen=True)
class DurableSettings:
    """The resolved configuration of one test's durable environment."""

    clock: str = DEFAULT_CLOCK
    start_time: datetime | None = None
    freeze_time: bool = False
    replay_audit: bool = True
    """Replay every orchestration instance the test ran, after it passed, and fail it on a divergence."""
    replay_audit_repeats: int = DEFAULT_REPLAY_AUDIT_REPEATS
    external_address: str | None = None
    control_url: str | None = None
    """With an external address: the control API of a CLI fake there (clock, faults and inspection work)."""

    @property
    def uses_fake(self) -> bool:
        """True when the test runs against an in-process fake sidecar, not an external one."""
        return self.external_address is None

    @property
    def has_fake_controls(self) -> bool:
        """True when the virtual clock, faults and inspection are available: in-process or a remote fake."""
        return self.uses_fake or self.control_url is not None


def parse_clock(value: Any, *, source: str) -> str:
    """Validate a clock mode name."""
    if not isinstance(value, str) or value.strip().lower() not in CLOCK_MODES:
        raise DurableSettingsError(f"{source}: clock must be one of {', '.join(CLOCK_MODES)}, got {value!r}")
    return value.strip().lower()


def parse_start_time(value: Any, *, source: str) -> datetime | None:
    """Turn a datetime or an ISO-8601 string into an aware UTC datetime; naive values are taken as UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise DurableSettingsError(
                f"{source}: start_time must be an ISO-8601 date-time such as 2024-01-01T00:00:00Z, got {value!r}"
            ) from None
    if not isinstance(value, datetime):
        raise DurableSettingsError(
            f"{source}: start_time must be a datetime or an ISO-8601 string, got {type(value).__name__}"
        )
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def parse_bool(value: Any, *, source: str, name: str) -> bool:
    """Accept a bool or a usual textual spelling of one."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
    raise DurableSettingsError(f"{source}: {name} must be true or false, got {value!r}")


def parse_repeats(value: Any, *, source: str) -> int:
    """A positive number of replays per instance (empty: the default)."""
    if value is None or value == "":
        return DEFAULT_REPLAY_AUDIT_REPEATS
    try:
        repeats = int(str(value).strip())
    except ValueError:
        repeats = 0
    if repeats < 1:
        raise DurableSettingsError(f"{source}: expected a positive number of replays, got {value!r}")
    return repeats


def parse_address(value: str, *, source: str) -> str:
    """Validate a HOST:PORT sidecar address and return it unchanged."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise DurableSettingsError(f"{source}: expected HOST:PORT (for example 127.0.0.1:4001), got {value!r}")
    return value.strip()


def defaults_from_ini(getini: Any, external_address: str | None, control_url: str | None = None) -> DurableSettings:
    """Suite-wide settings from the ini options (``getini`` is ``config.getini``)."""
    clock = getini(INI_CLOCK) or DEFAULT_CLOCK
    return DurableSettings(
        clock=parse_clock(clock, source=f"ini option {INI_CLOCK}"),
        start_time=parse_start_time(getini(INI_START_TIME), source=f"ini option {INI_START_TIME}"),
        freeze_time=parse_bool(getini(INI_FREEZE_TIME), source=f"ini option {INI_FREEZE_TIME}", name="freeze_time"),
        replay_audit=_audit_from_ini(getini(INI_REPLAY_AUDIT)),
        replay_audit_repeats=parse_repeats(getini(INI_REPLAY_AUDIT_REPEATS),
                                           source=f"ini option {INI_REPLAY_AUDIT_REPEATS}"),
        external_address=external_address,
        control_url=control_url,
    )


def _audit_from_ini(value: Any) -> bool:
    if value is None or value == "":
        return True  # on by default
    return parse_bool(value, source=f"ini option {INI_REPLAY_AUDIT}", name="replay_audit")


def apply_markers(defaults: DurableSettings, markers: Iterable[Any]) -> DurableSettings:
    """Overlay marker keyword arguments on the defaults; ``markers`` are ordered closest first."""
    chosen: dict[str, Any] = {}
    for marker in markers:
        if marker.args:
            raise DurableSettingsError(
                f"@pytest.mark.{MARKER_NAME} takes keyword arguments only ({', '.join(MARKER_KEYWORDS)}), "
                f"got positional {marker.args!r}"
            )
        for key, value in marker.kwargs.items():
            if key not in MARKER_KEYWORDS:
                raise DurableSettingsError(
                    f"@pytest.mark.{MARKER_NAME}: unknown argument {key!r}; "
                    f"expected one of {', '.join(MARKER_KEYWORDS)}"
                )
            chosen.setdefault(key, value)
    source = f"@pytest.mark.{MARKER_NAME}"
    return DurableSettings(
        clock=parse_clock(chosen["clock"], source=source) if "clock" in chosen else defaults.clock,
        start_time=(
            parse_start_time(chosen["start_time"], source=source) if "start_time" in chosen else defaults.start_time
        ),
        freeze_time=(
            parse_bool(chosen["freeze_time"], source=source, name="freeze_time")
            if "freeze_time" in chosen
            else defaults.freeze_time
        ),
        replay_audit=(
            parse_bool(chosen["replay_audit"], source=source, name="replay_audit")
            if "replay_audit" in chosen
            else defaults.replay_audit
        ),
        replay_audit_repeats=defaults.replay_audit_repeats,
        external_address=defaults.external_address,
        control_url=defaults.control_url,
    )
