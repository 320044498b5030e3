"""What the plugin remembers about one test's durable environment, for the failure report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from .report import faults_from_plan, instances_from_external, instances_from_fake, render_report
from .settings import DurableSettings
from .sidecar_protocol import DrivableSidecar
from .timeline import format_offset


@dataclass
class DurableTestState:
    """The sidecar a test used, when its virtual time started, and the clients it handed out."""

    settings: DurableSettings
    sidecar: DrivableSidecar
    origin: datetime | None = None
    metadata: list[tuple[str, str]] = field(default_factory=list)
    clients: list[Any] = field(default_factory=list)
    cleaned_up: set[str] = field(default_factory=set)
    workers: list[Any] = field(default_factory=list)

    def timeout_hint(self, instance_id: str) -> str | None:
        """Why a wait for ``instance_id`` may have timed out, when the plugin can tell; else None."""
        if any(getattr(worker, "is_running", False) for worker in self.workers):
            return None
        return ("no worker of this test is running: register your functions on durable_worker, then call "
                "durable_worker.start() (or durable_worker.start_with(orchestrators=[...], activities=[...]))")

    def scheduled_instance_ids(self) -> list[str]:
        """Instance ids the test's clients scheduled, in order."""
        ids: list[str] = []
        for client in self.clients:
            ids.extend(getattr(client, "scheduled_instance_ids", []))
        return ids

    def clean_up_external(self) -> None:
        """On an external sidecar: terminate and purge the test's instances (once each); warn on problems."""
        if self.settings.has_fake_controls:  # in-process, or a remote fake that the next test resets
            return
        from .cleanup import clean_up_instances, warn_about

        ids = [i for i in self.scheduled_instance_ids() if i not in self.cleaned_up]
        self.cleaned_up.update(ids)
        warn_about(clean_up_instances(self.sidecar.address, ids, self.metadata), self.sidecar.address)

    def report_text(self) -> str:
        """The failure report section for this test."""
        if self.settings.has_fake_controls:
            return self._fake_report()
        return self._external_report()

    def _fake_report(self) -> str:
        clock = self.sidecar.clock
        time_kind = "wall time" if clock.mode == "real" else "virtual time"
        header = [f"fake sidecar at {self.sidecar.address}, clock={clock.mode}"]
        if self.origin is not None:
            header[0] += f", {time_kind} now {format_offset(clock.now(), self.origin)}"
        faults, seed = faults_from_plan(self.sidecar.faults)
        return render_report(
            instances_from_fake(self.sidecar),
            origin=self.origin,
            origin_kind=time_kind,
            header=header,
            faults=faults,
            chaos_seed=seed,
            entities=self.sidecar.entities(),
        )

    def _external_report(self) -> str:
        ids = self.scheduled_instance_ids()
        header = [
            f"external sidecar at {self.sidecar.address}; showing the instances scheduled through durable_client",
        ]
        instances = instances_from_external(self.sidecar.address, ids, self.metadata)
        origin = min((view.created_at for view in instances if view.created_at is not None), default=None)
        return render_report(instances, origin=origin, origin_kind="the sidecar's time", header=header, faults=None)


STATE_KEY = pytest.StashKey[DurableTestState]()
