"""Review of uploads, embedded: real SQLite store, real Docker sandboxes.

The story of the issue: an upload with a finding in the review band waits; its run is
refused; a reviewer approves it; it runs and the job records its version. An update to an
approved program waits while jobs run the previous approved version. Four eyes. Every
refusal changes nothing, and the audit log holds every step with the right actor.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import ProgramNotApproved, RuntimeService
from engine.audit import Action, verify_entries
from engine.errors import (
    InputValidationError,
    InvalidReviewState,
    PermissionDenied,
    ReviewNotFound,
)
from engine.review_policy import ReviewBand, ReviewPolicy, load_review_policy
from tests.programs import SLEEPER, SLEEPER_METADATA

pytestmark = pytest.mark.docker

RANDOM = ("import random\n\ndef main(backend, user_messenger, **kwargs):\n"
          "    return random.random()\n")
RANDOM_V2 = ("import random\n\ndef main(backend, user_messenger, **kwargs):\n"
             "    return random.random() + 1\n")
CLEAN = "def main(backend, user_messenger, **kwargs):\n    return kwargs.get('n', 7)\n"
METADATA = {"name": "dice", "description": "Rolls.", "max_execution_time": 60}
BAND = ReviewPolicy(review_band=ReviewBand(rule_ids=("B311",)))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def people(home: Path, runtime_image: str):
    """alice uploads, bob reviews, carol is neither, root is an admin (one store)."""
    with RuntimeService(home=home, user="alice", review_policy=BAND) as alice:
        yield {
            "alice": alice,
            "bob": alice.as_user("bob", is_reviewer=True),
            "carol": alice.as_user("carol"),
            "root": alice.as_user("root", is_admin=True),
        }


def _audit(service: RuntimeService) -> list:
    return service.as_user("root", is_admin=True).audit_log(limit=None)


def test_default_policy_approves_a_clean_upload_at_once(home: Path, runtime_image: str) -> None:
    assert load_review_policy() == ReviewPolicy()
    with RuntimeService(home=home, user="alice") as service:
        program_id = service.upload_program(RANDOM, METADATA)
        assert service.program(program_id).review_status == "approved"
        assert service.run(program_id).result() is not None


def test_a_flagged_upload_waits_for_review_then_runs_the_approved_version(people) -> None:
    alice, bob = people["alice"], people["bob"]
    program_id = alice.upload_program(RANDOM, {**METADATA, "is_public": True})
    program = alice.program(program_id)
    assert (program.version, program.review_status) == (1, "pending_review")

    with pytest.raises(ProgramNotApproved) as refused:
        alice.run(program_id)
    assert refused.value.pending_version == 1
    assert refused.value.review == f"/v1/reviews/{program_id}/1"
    assert f"review show {program_id} 1" in str(refused.value)
    assert alice.jobs(limit=None) == []

    queue = bob.reviews()
    assert [(r.program_id, r.version) for r in queue] == [(program_id, 1)]
    review = bob.review(program_id, 1)
    assert (review.uploader, review.visibility, review.status) == ("alice", "public",
                                                                  "pending_review")
    finding = next(f for f in review.findings if f["rule_id"] == "B311")
    assert {"line": 4, "text": "    return random.random()"} in finding["context"]
    assert review.approve("random is fine for dice").status == "approved"
    assert review.reviewed_by == "bob"

    job = alice.run(program_id)
    assert isinstance(job.result(), float)
    assert alice.job_record(job.job_id()).program_version == 1
    # the uploader sees the decision and the comment
    mine = alice.reviews(status="approved")
    assert [(r.reviewed_by, r.review_comment) for r in mine] == [("bob",
                                                                  "random is fine for dice")]


def test_an_update_waits_while_jobs_run_the_previous_approved_version(people) -> None:
    alice, bob = people["alice"], people["bob"]
    program_id = alice.upload_program(RANDOM, {**METADATA, "is_public": True})
    bob.review(program_id, 1).approve("ok")

    alice.update_program(program_id, data=RANDOM_V2, description="Rolls higher.")
    program = alice.program(program_id)
    assert (program.version, program.review_status) == (2, "pending_review")
    job = alice.run(program_id)
    assert 0 <= job.result() < 1  # version 1's code
    assert alice.job_record(job.job_id()).program_version == 1

    review = bob.review(program_id, 2)
    assert review.base_version == 1
    assert "-    return random.random()\n+    return random.random() + 1\n" in \
        review.diff["dice.py"]
    assert '-  "description": "Rolls.",' in review.metadata_diff
    assert '+  "description": "Rolls higher.",' in review.metadata_diff
    review.approve()
    job = alice.run(program_id)
    assert 1 <= job.result() < 2
    assert alice.job_record(job.job_id()).program_version == 2


def test_four_eyes_unless_the_policy_allows_self_approval(home: Path, runtime_image: str) -> None:
    with RuntimeService(home=home, user="bob", review_policy=BAND, is_reviewer=True) as bob:
        program_id = bob.upload_program(RANDOM, METADATA)
        with pytest.raises(PermissionDenied, match="allow_self_approval"):
            bob.review(program_id, 1).approve("mine")
        assert bob.program(program_id).review_status == "pending_review"
    allowing = BAND.model_copy(update={"allow_self_approval": True})
    with RuntimeService(home=home, user="bob", review_policy=allowing, is_reviewer=True) as bob:
        assert bob.review(program_id, 1).approve("single-person install").status == "approved"


def test_every_refusal_changes_nothing(people) -> None:
    alice, bob, carol, root = (people[name] for name in ("alice", "bob", "carol", "root"))
    public = alice.upload_program(RANDOM, {**METADATA, "is_public": True})
    private = alice.upload_program(RANDOM, {**METADATA, "name": "secret"})
    approved = alice.upload_program(CLEAN, {**METADATA, "name": "clean", "is_public": True})
    before = len(_audit(alice))

    refusals = [
        (InvalidReviewState, lambda: bob.approve_version(approved, 1, "again")),  # 409
        (PermissionDenied, lambda: carol.approve_version(public, 1, "me too")),  # 403
        (ReviewNotFound, lambda: bob.approve_version(private, 1, "cannot see")),  # 404
        (ReviewNotFound, lambda: bob.review(private, 1)),  # 404
        (ReviewNotFound, lambda: carol.review(public, 1)),  # not a reviewer, not hers
        (InputValidationError, lambda: bob.reject_version(public, 1, "   ")),  # 422
        (ReviewNotFound, lambda: bob.approve_version(public, 9, "no such version")),
    ]
    for error, attempt in refusals:
        with pytest.raises(error):
            attempt()
    assert InvalidReviewState.http_status == 409 and PermissionDenied.http_status == 403
    assert ReviewNotFound.http_status == 404 and InputValidationError.http_status == 422
    assert [alice.program(p).review_status for p in (public, private, approved)] == [
        "pending_review", "pending_review", "approved"]
    assert len(_audit(alice)) == before

    alice.delete_program(public)
    with pytest.raises(ReviewNotFound):
        bob.approve_version(public, 1, "gone")
    with pytest.raises(ReviewNotFound):
        root.review(public, 1)
    assert len(_audit(alice)) == before + 1  # only the deletion


def test_the_audit_log_holds_the_story_with_its_actors(people) -> None:
    alice, bob = people["alice"], people["bob"]
    program_id = alice.upload_program(RANDOM, {**METADATA, "is_public": True})
    alice.update_program(program_id, data=RANDOM_V2)
    bob.review(program_id, 1).reject("no randomness, please")
    bob.review(program_id, 2).approve("better")
    job = alice.run(program_id)
    job.result()
    alice.set_program_visibility(program_id, False)
    sleeper = alice.upload_program(SLEEPER, SLEEPER_METADATA)
    slow = alice.run(sleeper, {"seconds": 60})
    slow.cancel()
    alice.delete_job(job.job_id())
    alice.delete_program(program_id)

    entries = _audit(alice)
    assert [(e.actor, e.action, e.object) for e in entries] == [
        ("alice", Action.PROGRAM_UPLOAD, program_id),
        ("alice", Action.PROGRAM_UPDATE, program_id),
        ("bob", Action.REVIEW_REJECT, program_id),
        ("bob", Action.REVIEW_APPROVE, program_id),
        ("alice", Action.JOB_RUN, job.job_id()),
        ("alice", Action.PROGRAM_VISIBILITY, program_id),
        ("alice", Action.PROGRAM_UPLOAD, sleeper),
        ("alice", Action.JOB_RUN, slow.job_id()),
        ("alice", Action.JOB_CANCEL, slow.job_id()),
        ("alice", Action.JOB_DELETE, job.job_id()),
        ("alice", Action.PROGRAM_DELETE, program_id),
    ]
    assert entries[2].details == {"version": 1, "comment": "no randomness, please"}
    assert entries[4].details["program_version"] == 2
    assert {e.origin for e in entries} == {"embedded"}
    with alice._db.read() as tx:
        assert verify_entries(tx.audit.stored()) == (len(entries), None)
        assert tx.reviews.get(program_id, 1) is None  # gone with its program
    with pytest.raises(PermissionDenied):
        alice.audit_log()  # admins only
