"""A shortened ``modelmon demo`` end to end: its own server on an accelerated clock, three
simulated weeks in well under a minute, every injected problem caught, signed webhooks
received (the retraining request among them), charts written."""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import struct
from pathlib import Path

import pytest

from service.demo.command import EXIT_CAUGHT, Outcome, add_arguments, conclude
from service.demo.receiver import Received
from service.demo.summary import Report

pytestmark = pytest.mark.slow

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    charts = tmp_path_factory.mktemp("charts")
    args = _args(
        "--weeks", "3", "--duration", "20", "--per-day", "2500", "--seed", "11", "--charts", str(charts)
    )
    result = conclude(args)
    assert result.report is not None, result.text
    return result


def _report(outcome: Outcome) -> Report:
    assert outcome.report is not None
    return outcome.report


def _signature_holds(secret: str, event: Received) -> bool:
    """Standard Webhooks by hand (not with the package the receiver used): HMAC-SHA256 of
    "{webhook-id}.{webhook-timestamp}.{body}" under the base64 key after ``whsec_``."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{event.headers['webhook-id']}.{event.headers['webhook-timestamp']}.".encode() + event.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [part.split(",", 1)[1] for part in event.headers["webhook-signature"].split()]
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)


def test_every_injected_problem_is_caught(outcome: Outcome) -> None:
    report = _report(outcome)
    assert outcome.code == EXIT_CAUGHT, outcome.text
    caught = {f.injection.name: f for f in report.findings}
    assert set(caught) == {"income shift", "concept shift", "purpose mix change", "selection gap, age 18-25"}
    assert {d.feature for d in caught["income shift"].detections} == {"income"}
    assert {d.feature for d in caught["purpose mix change"].detections} == {"purpose"}
    assert {d.family for d in caught["concept shift"].detections} == {"performance"}
    gap = caught["selection gap, age 18-25"].detections
    assert {d.attribute for d in gap} == {"age_band"}
    assert "statistical_parity_difference" in {d.metric for d in gap}
    for finding in report.findings:
        # Caught on windows that ended after the problem began, within a week of it.
        assert finding.windows_after is not None and 0 < finding.windows_after <= 28, finding
        assert all(d.first_window_end > finding.started for d in finding.detections)


def test_performance_is_caught_only_once_late_labels_arrive(outcome: Outcome) -> None:
    concept = next(f for f in _report(outcome).findings if f.injection.name == "concept shift")
    first = concept.detections[0]
    # Labels come 7-8 simulated days late in a 3-week run: the alert is raised days after
    # the window it is about, while drift alerts are raised as their windows end.
    assert (first.fired_at - first.first_window_end).days >= 6
    income = next(f for f in _report(outcome).findings if f.injection.name == "income shift")
    assert (income.detections[0].fired_at - income.detections[0].first_window_end).days < 1


def test_the_receiver_got_signed_webhooks_with_a_retraining_request(outcome: Outcome) -> None:
    report = _report(outcome)
    assert report.secret is not None and report.rejected == 0
    assert report.received and all(_signature_holds(report.secret, event) for event in report.received)
    assert report.webhooks["alert.firing"] >= 4
    retrains = [e for e in report.received if e.type == "model.retrain_requested"]
    assert len(retrains) == len(report.retrains) >= 1
    evidence = retrains[0].data
    assert evidence["model"] == "credit-scoring"
    assert {r["family"] for r in evidence["reasons"]} == {"performance"}
    assert evidence["idempotency_key"].startswith("retrain:credit-scoring:")


def test_the_summary_names_each_problem_and_its_detection(outcome: Outcome) -> None:
    text = outcome.text
    for line in (
        "[caught] income shift",
        "drift alert on income: drift_score",
        "[caught] purpose mix change",
        "drift alert on purpose: drift_score",
        "[caught] concept shift",
        "[caught] selection gap, age 18-25",
        "fairness alert on age_band: statistical_parity_difference",
        "[caught] retraining requested",
        "model.retrain_requested",
        "PASS: 4 of 4 injected problems caught",
    ):
        assert line in text, f"{line!r} missing from:\n{text}"


def test_the_four_problems_give_at_most_six_incidents_that_hold_every_fired_alert(outcome: Outcome) -> None:
    report = _report(outcome)
    assert 1 <= len(report.incidents) <= 6, outcome.text
    fired = {d.alert_id for f in report.findings for d in f.detections} | {d.alert_id for d in report.others}
    assert set().union(*(i.alert_ids for i in report.incidents)) == fired
    for finding in report.findings:
        incident = report.incident_of(finding.detections[0].alert_id)
        assert incident is not None, finding.injection.name
        assert f"incident #{incident.id} ({incident.cause})" in outcome.text
    assert f"{len(fired)} fired alerts grouped into {len(report.incidents)} incident" in outcome.text


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_charts_are_written_as_png(outcome: Outcome, tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = next(p for p in tmp_path_factory.getbasetemp().iterdir() if p.name.startswith("charts"))
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["drift.png", "fairness.png", "performance.png"]
    for name in names:
        assert _png_size(folder / name) == (1000, 480)  # 10 × 4.8 inches at 100 dpi
        assert (folder / name).stat().st_size > 20_000  # lines were drawn, not an empty frame
